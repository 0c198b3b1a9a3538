"""Registration and email verification."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.types import ClientInfo
from authmanager.accounts._errors import InvalidFieldsError, LoginTakenError
from authmanager.accounts._kit import NO_CLIENT, AccountKit, client_fields, user_id_of
from authmanager.accounts._messages import Purpose
from authmanager.accounts._policy import check_address, is_verified
from authmanager.hooks import EventName

__all__ = ["Registration"]

UserT = TypeVar("UserT")


class Registration(Generic[UserT]):
    """`register`, `request_email_verification` and `verify_email`.

    Args:
        kit: The shared collaborators and steps of the account flows.
    """

    def __init__(self, *, kit: AccountKit[UserT]) -> None:
        self._kit = kit

    async def register(
        self,
        login: str,
        password: str,
        *,
        fields: Mapping[str, object] | None = None,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> UserT | None:
        """Create an account with the loader's `create_user`, the password hashed off the loop.

        With `require_verified_email` on, a `verify_email` link goes to the new
        address; and a taken login raises nothing: its owner is sent
        `account_exists` and None is returned, after the same work (the password is
        hashed either way), so the HTTP layer answers 202 to both.

        Raises:
            InvalidAddressError: the login is not an email address.
            PasswordPolicyError: the password breaks the policy (`rule` says which).
            InvalidFieldsError: the loader refused *fields* (checked before the look-up).
            LoginTakenError: the login is taken and verification is not required (also
                when another registration of it won a race).
            MissingLoaderMethodError: the loader has no `create_user`.
            RateLimitExceededError: too many requests from this IP or for this address.
            TokenStoreUnavailableError: nothing was created.
        """
        kit = self._kit
        create = kit.method("create_user")
        client = client or NO_CLIENT
        login = check_address(login)
        kit.policy.check(password)
        values = await self._checked_fields(fields)
        await kit.limit(client, login)
        password_hash = await kit.hasher.hash_async(password)
        user, owner = await self._create(create, login, password_hash, values, session)
        if owner is not None:
            if not kit.require_verified:
                raise LoginTakenError()
            kit.mailer.send_notice(Purpose.ACCOUNT_EXISTS, user_id=user_id_of(owner), to=login)
            return None
        user_id = user_id_of(user)
        kit.events.emit(EventName.ACCOUNT_REGISTERED, user_id=user_id, **client_fields(client))
        if kit.require_verified:
            self._send(user_id, login, client)
        return user

    async def _checked_fields(self, fields: Mapping[str, object] | None) -> dict[str, object]:
        """The extra fields, refused now if the loader refuses them (before any look-up).

        Checked before the login is looked up, so invalid fields are refused whether or
        not the login exists: the refusal cannot tell a stranger that a login is free.

        Raises:
            InvalidFieldsError: the loader's `check_fields` refused them; or, with
                verification required, there are fields and the loader cannot check them.
        """
        values = dict(fields or {})
        check = self._kit.users_check_fields
        if check is None:
            if values and self._kit.require_verified:
                raise InvalidFieldsError(
                    "Registration takes no extra fields here (the user loader has no check_fields)."
                )
            return values
        try:
            result = check(values)
            if inspect.isawaitable(result):
                await result
        except ValueError as exc:
            raise InvalidFieldsError(str(exc)) from None
        return values

    async def _create(
        self,
        create: Callable[..., Awaitable[Any]],
        login: str,
        password_hash: str,
        values: dict[str, object],
        session: AsyncSession | None,
    ) -> tuple[UserT | None, UserT | None]:
        """Create the user unless *login* is taken: (new user, None) or (None, its owner).

        Raises:
            InvalidFieldsError: `create_user` refused the fields.
        """
        kit = self._kit
        async with kit.db.transaction(session) as db:
            owner = await kit.users.get_user_by_login(db, login)
            if owner is not None:
                return None, owner
            try:
                # A savepoint: a caller's transaction survives a lost race below.
                async with db.begin_nested():
                    user: UserT = await create(db, login, password_hash, values)
                    return user, None
            except ValueError as exc:
                raise InvalidFieldsError(str(exc)) from None
            except IntegrityError:
                # Two registrations of one login at once (PostgreSQL lets both look it up
                # before either inserts): the loser's INSERT hits the unique index. Taken,
                # when the winner's row is there now; any other integrity error is a fault.
                owner = await kit.users.get_user_by_login(db, login)
                if owner is None:
                    raise
                return None, owner

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
        self._kit.method("set_verified")
        client = client or NO_CLIENT
        address = self._kit.address_of(user, required=True)
        assert address is not None  # noqa: S101 - required=True raised otherwise
        await self._kit.limit(client, address)
        if not is_verified(user):
            self._send(user_id_of(user), address, client)

    async def verify_email(
        self, token: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> UserT:
        """Mark the user of a `verify_email` token verified; return the user.

        Raises:
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or an address changed since the link was sent.
            ExpiredTokenError: the token expired.
            MissingLoaderMethodError: the loader has no `set_verified`.
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

    def _send(self, user_id: str, address: str, client: ClientInfo) -> None:
        self._kit.mailer.send_link(
            Purpose.VERIFY_EMAIL,
            user_id=user_id,
            to=address,
            client=client,
            sent=EventName.EMAIL_VERIFICATION_SENT,
        )
