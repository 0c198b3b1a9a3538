"""Registration: `register`, and the enumeration-safe `request_registration` of `/register`."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.types import ClientInfo
from authmanager.accounts._errors import InvalidFieldsError, LoginTakenError
from authmanager.accounts._kit import NO_CLIENT, AccountKit, client_fields, user_id_of
from authmanager.accounts._messages import Purpose
from authmanager.accounts._policy import check_address
from authmanager.accounts._verification import send_verification
from authmanager.hooks import EventName

__all__ = ["Registration"]

UserT = TypeVar("UserT")


@dataclass(frozen=True, slots=True)
class _Request:
    """A registration that passed every check: what creating the account needs."""

    create: Callable[..., Awaitable[Any]]
    login: str
    password_hash: str = field(repr=False)
    fields: Mapping[str, object]
    client: ClientInfo


class Registration(Generic[UserT]):
    """`register`, and `request_registration` for `/register` with verification required.

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
        `account_exists` and None is returned. Creating the row still takes its INSERT
        on the caller's time: an HTTP route that must not tell taken logins from free
        ones answers before that (`request_registration`).

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
        request = await self._checked(login, password, fields, client)
        user, owner = await self._create(request, session)
        return self._announce(request, user, owner)

    async def request_registration(
        self,
        login: str,
        password: str,
        *,
        fields: Mapping[str, object] | None = None,
        client: ClientInfo | None = None,
    ) -> None:
        """Check, limit and hash now; create the account (or warn its owner) in the background.

        What `/register` does with verification required: the requester waits for the
        same work whether or not the login is taken (the checks, the limit, the hash),
        and the look-up, the INSERT and the message come after the answer. A failure
        there is logged and reported (`message.failed`), never answered.

        Raises:
            InvalidAddressError, PasswordPolicyError, InvalidFieldsError,
            MissingLoaderMethodError, RateLimitExceededError: as `register`.
            TokenStoreUnavailableError: the rate-limit storage is down.
        """
        request = await self._checked(login, password, fields, client)

        async def job() -> None:
            user, owner = await self._create(request, None)
            self._announce(request, user, owner)

        self._kit.outbox.run(job, purpose=Purpose.VERIFY_EMAIL, user_id=None)

    async def _checked(
        self,
        login: str,
        password: str,
        fields: Mapping[str, object] | None,
        client: ClientInfo | None,
    ) -> _Request:
        """Every check of a registration, the limit, then the hash (all before any look-up)."""
        kit = self._kit
        create = kit.method("create_user")
        login = check_address(login)
        kit.policy.check(password)
        values = await self._checked_fields(fields)
        client = client or NO_CLIENT
        await kit.limit(client, login)
        password_hash = await kit.hasher.hash_async(password)
        return _Request(create, login, password_hash, values, client)

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
        self, request: _Request, session: AsyncSession | None
    ) -> tuple[UserT | None, UserT | None]:
        """Create the user unless the login is taken: (new user, None) or (None, its owner).

        Raises:
            InvalidFieldsError: `create_user` refused the fields.
        """
        kit, login = self._kit, request.login
        async with kit.db.transaction(session) as db:
            owner = await kit.users.get_user_by_login(db, login)
            if owner is not None:
                return None, owner
            try:
                # A savepoint: a caller's transaction survives a lost race below.
                async with db.begin_nested():
                    user: UserT = await request.create(
                        db, login, request.password_hash, dict(request.fields)
                    )
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

    def _announce(self, request: _Request, user: UserT | None, owner: UserT | None) -> UserT | None:
        """Report the outcome and start its message; the new user, or None for a taken login.

        Raises:
            LoginTakenError: the login is taken and verification is not required.
        """
        kit, login, client = self._kit, request.login, request.client
        if owner is not None:
            if not kit.require_verified:
                raise LoginTakenError()
            kit.mailer.send_notice(Purpose.ACCOUNT_EXISTS, user_id=user_id_of(owner), to=login)
            return None
        user_id = user_id_of(user)
        kit.events.emit(EventName.ACCOUNT_REGISTERED, user_id=user_id, **client_fields(client))
        if kit.require_verified:
            send_verification(kit, user_id, login, client)
        return user
