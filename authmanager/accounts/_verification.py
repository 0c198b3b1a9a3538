"""Email verification: the `verify_email` link and its confirmation."""

from __future__ import annotations

from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.types import ClientInfo
from authmanager.accounts._kit import NO_CLIENT, AccountKit, user_id_of
from authmanager.accounts._messages import Purpose
from authmanager.accounts._policy import is_verified
from authmanager.hooks import EventName

__all__ = ["Verification", "send_verification"]

UserT = TypeVar("UserT")


def send_verification(
    kit: AccountKit[UserT], user_id: str, address: str, client: ClientInfo
) -> None:
    """In the background: issue a `verify_email` token and mail its link to *address*."""
    kit.mailer.send_link(
        Purpose.VERIFY_EMAIL,
        user_id=user_id,
        to=address,
        client=client,
        sent=EventName.EMAIL_VERIFICATION_SENT,
    )


class Verification(Generic[UserT]):
    """`request_email_verification` and `verify_email`.

    Args:
        kit: The shared collaborators and steps of the account flows.
    """

    def __init__(self, *, kit: AccountKit[UserT]) -> None:
        self._kit = kit

    async def request_email_verification(
        self, user: UserT, *, client: ClientInfo | None = None
    ) -> None:
        """Send *user* a `verify_email` link, in the background (nothing when verified).

        Raises:
            MissingLoaderMethodError: the loader has no `set_verified`.
            TypeError: the user's address is unknown.
            RateLimitExceededError: too many requests from this IP or for this address.
            TokenStoreUnavailableError: the rate-limit storage is down.
        """
        kit = self._kit
        kit.method("set_verified")
        client = client or NO_CLIENT
        address = kit.address_of(user, required=True)
        assert address is not None  # noqa: S101 - required=True raised otherwise
        await kit.limit(client, address)
        if not is_verified(user):
            send_verification(kit, user_id_of(user), address, client)

    async def verify_email(
        self, token: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> UserT:
        """Mark the user of a `verify_email` token verified; return the user.

        Raises:
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or an address changed since the link was sent.
            ExpiredTokenError: the token expired.
            MissingLoaderMethodError: the loader has no `set_verified`.
            RateLimitExceededError: too many failed confirmations from this IP.
            TokenStoreUnavailableError: nothing was changed.
        """
        kit = self._kit
        set_verified = kit.method("set_verified")
        async with kit.token_step(client) as step, kit.db.transaction(session) as db:
            action = await kit.tokens.consume(token, Purpose.VERIFY_EMAIL, session=db)
            user = await kit.account(db, action)
            await set_verified(db, user)
        kit.events.emit(EventName.EMAIL_VERIFIED, user_id=action.user_id, **step)
        return user
