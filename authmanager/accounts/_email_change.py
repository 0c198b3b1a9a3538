"""Email change: a link to the new address, a notice to the old one."""

from __future__ import annotations

from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.types import ClientInfo
from authmanager.accounts._errors import InvalidAddressError, LoginTakenError
from authmanager.accounts._kit import (
    NO_CLIENT,
    AccountKit,
    client_fields,
    same_address,
    user_id_of,
)
from authmanager.accounts._mailer import ADDRESS_KEY
from authmanager.accounts._messages import Purpose
from authmanager.accounts._policy import check_address
from authmanager.exceptions import Reason
from authmanager.hooks import EventName

__all__ = ["EmailChange"]

UserT = TypeVar("UserT")
_OLD_KEY = "old"


class EmailChange(Generic[UserT]):
    """`request_email_change` and `confirm_email_change`.

    The old address is told when the change happens (`email_changed`, sent at
    confirmation): that is when its owner can still react, and a request that is
    never confirmed changes nothing.

    Args:
        kit: The shared collaborators and steps of the account flows.
    """

    def __init__(self, *, kit: AccountKit[UserT]) -> None:
        self._kit = kit

    async def request_email_change(
        self,
        user: UserT,
        new_login: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        """Send a `change_email` link to *new_login*; the change waits for its confirmation.

        A *new_login* that another account holds gets no link: its owner is sent
        `account_exists` instead, and the caller sees the same answer (no enumeration).

        Raises:
            InvalidAddressError: *new_login* is not an address, or is the current one.
            MissingLoaderMethodError: the loader has no `set_login`.
            TypeError: the user's address is unknown.
            RateLimitExceededError: too many requests from this IP or for this address.
            TokenStoreUnavailableError: the database or the rate-limit storage is down.
        """
        kit = self._kit
        kit.method("set_login")
        client = client or NO_CLIENT
        new_login = check_address(new_login)
        old = kit.address_of(user, required=True)
        assert old is not None  # noqa: S101 - required=True raised otherwise
        if same_address(old, new_login):
            raise InvalidAddressError("The new address is the current one.")
        await kit.limit(client, new_login)
        async with kit.db.reading(session) as db:
            holder = await kit.users.get_user_by_login(db, new_login)
        user_id = user_id_of(user)
        taken = holder is not None and user_id_of(holder) != user_id
        kit.events.emit(
            EventName.EMAIL_CHANGE_REQUESTED,
            user_id=user_id,
            reason=Reason.LOGIN_TAKEN if taken else None,
            **client_fields(client),
        )
        if taken:
            kit.mailer.send_notice(Purpose.ACCOUNT_EXISTS, user_id=user_id_of(holder), to=new_login)
            return
        kit.mailer.send_link(
            Purpose.CHANGE_EMAIL, user_id=user_id, to=new_login, client=client, data={_OLD_KEY: old}
        )

    async def confirm_email_change(
        self, token: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> UserT:
        """Make the address of a `change_email` token the user's login, verified; return the user.

        Then the old address is sent `email_changed`, and the user's pending links
        (verification, reset, sign-in, other changes) stop working.

        Raises:
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or a login changed since the request.
            ExpiredTokenError: the token expired.
            LoginTakenError: another account took the address meanwhile; the token still works.
            MissingLoaderMethodError: the loader has no `set_login`.
            TokenStoreUnavailableError: nothing was changed.
        """
        kit = self._kit
        set_login, set_verified = kit.method("set_login"), kit.optional("set_verified")
        async with kit.token_step(client) as step, kit.db.transaction(session) as db:
            action = await kit.tokens.consume(token, Purpose.CHANGE_EMAIL, session=db)
            old, new = str(action.data.get(_OLD_KEY)), str(action.data.get(ADDRESS_KEY))
            user = await kit.account(db, action, sent_to=old)
            holder = await kit.users.get_user_by_login(db, new)
            if holder is not None and user_id_of(holder) != action.user_id:
                raise LoginTakenError()
            await set_login(db, user, new)
            if set_verified is not None:
                await set_verified(db, user)
            await kit.tokens.revoke_user(action.user_id, list(Purpose), session=db)
        kit.events.emit(EventName.EMAIL_CHANGED, user_id=action.user_id, **step)
        kit.mailer.send_notice(Purpose.EMAIL_CHANGED, user_id=action.user_id, to=old)
        return user
