"""LoginService: password checks (login, step-up), hash upgrades, password changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.loginlimit import Attempt, LoginLimiter
from authmanager._core.passwords import PasswordHasher, PasswordTooLongError
from authmanager._core.store import TokenStore
from authmanager._core.types import ClientInfo
from authmanager._services.liveness import user_id_of, user_is_active
from authmanager.exceptions import InvalidCredentialsError, RateLimitExceededError, Reason
from authmanager.hooks import EventName
from authmanager.loaders import UserLoader

__all__ = ["LoginService"]

UserT = TypeVar("UserT")


class LoginService(Generic[UserT]):
    """Check passwords against the application's users, with limits and events.

    Args:
        hasher: Hashes and verifies passwords off the event loop.
        users: The application's user loader.
        database: Transactions for the loader's reads and writes.
        store: Ends sessions on a password change.
        limiter: Failed-login limits, checked before any hashing.
        events: Where login events go.
    """

    def __init__(
        self,
        *,
        hasher: PasswordHasher,
        users: UserLoader[UserT],
        database: Database,
        store: TokenStore,
        limiter: LoginLimiter,
        events: HookDispatcher,
    ) -> None:
        self._hasher = hasher
        self._users = users
        self._database = database
        self._store = store
        self._limiter = limiter
        self._events = events

    async def authenticate(
        self,
        login: str,
        password: str,
        client: ClientInfo,
        session: AsyncSession | None,
        *,
        announce: bool = True,
    ) -> UserT:
        """Return the user whose login and password match (see `AuthManager.authenticate`).

        With *announce* false, `login.succeeded` is left to whoever starts the session
        (`SessionService.start(..., announce=True)`), so the event can name it.
        """
        ctx = {"client_ip": client.ip_address, "user_agent": client.user_agent}
        async with self._limiter.attempt(login, ip=client.ip_address) as attempt:
            user, hashed = await self.check_password(
                attempt,
                password,
                session,
                ctx,
                load=lambda db: self._users.get_user_by_login(db, login),
            )
            await self._limiter.succeeded(attempt)
        user_id = user_id_of(user)
        await self._upgrade_hash(user, user_id, password, hashed, session, ctx)
        if announce:
            self._events.emit(EventName.LOGIN_SUCCEEDED, user_id=user_id, **ctx)
        return user

    async def check_password(
        self,
        attempt: Attempt,
        password: str,
        session: AsyncSession | None,
        ctx: Mapping[str, Any],
        *,
        load: Callable[[AsyncSession], Awaitable[UserT | None]],
    ) -> tuple[UserT, str]:
        """Check the limits, then the password of the user *load* finds; count and raise on failure.

        Call it holding *attempt* (`self.attempt(...)`), so a burst cannot pass the check
        before its failures are counted. Every failure (unknown login, wrong password,
        inactive user) costs one hash check and raises the same error: which one it
        was goes to the `login.failed` event only.

        Raises:
            InvalidCredentialsError: wrong login or password, or an inactive user.
            RateLimitExceededError: too many failed attempts.
        """
        try:
            await self._limiter.check(attempt)
        except RateLimitExceededError as exc:
            self._events.emit(
                EventName.LOGIN_RATE_LIMITED,
                reason=Reason.RATE_LIMITED,
                extra={"retry_after": exc.retry_after},
                **ctx,
            )
            raise
        try:
            self._hasher.check_length(password)
        except PasswordTooLongError:
            await self._failed(attempt, Reason.PASSWORD_TOO_LONG, ctx)
        async with self._database.reading(session) as db:
            user = await load(db)
        hashed = getattr(user, "hashed_password", None) if user is not None else None
        if not await self._hasher.verify_async(password, hashed) or user is None:
            await self._failed(attempt, Reason.BAD_CREDENTIALS, ctx)
        assert user is not None  # noqa: S101 - for the type checker
        assert hashed is not None  # noqa: S101
        if not user_is_active(user):
            user_id = user_id_of(user)
            await self._failed(attempt, Reason.USER_INACTIVE, {**ctx, "user_id": user_id})
        return user, hashed

    def attempt(
        self, login: str | None = None, *, ip: str | None = None, user_id: str | None = None
    ) -> AbstractAsyncContextManager[Attempt]:
        """The limiter's turn for *login* or *user_id* (see `LoginLimiter.attempt`)."""
        return self._limiter.attempt(login, ip=ip, user_id=user_id)

    async def unlock(self, login: str | None, ip: str | None) -> None:
        """Lift the failed-login limits of *login* and of the address *ip* (see the manager)."""
        if not login and not ip:
            raise ValueError("unlock_login needs a login name, a client address, or both.")
        user_id = None
        if login:
            async with self._database.reading() as db:
                user = await self._users.get_user_by_login(db, login)
            user_id = None if user is None else user_id_of(user)
        await self._limiter.unlock(login, ip)
        self._events.emit(
            EventName.LOGIN_UNLOCKED,
            user_id=user_id,
            client_ip=ip,
            reason="unlocked",
            extra={"by_login": bool(login), "by_ip": bool(ip)},
        )

    async def _failed(self, attempt: Attempt, reason: Reason, ctx: Mapping[str, Any]) -> None:
        """Count a failed check, report why, and raise the one answer every failure gets."""
        await self._limiter.failed(attempt)
        self._events.emit(EventName.LOGIN_FAILED, reason=reason, **ctx)
        # Never `reason=reason`: the answer must not tell an inactive account with the
        # right password from a wrong one (a credential oracle).
        raise InvalidCredentialsError()

    async def _upgrade_hash(
        self,
        user: UserT,
        user_id: str,
        password: str,
        hashed: str,
        session: AsyncSession | None,
        ctx: Mapping[str, Any],
    ) -> None:
        setter = getattr(self._users, "set_password_hash", None)
        if setter is None or not self._hasher.needs_rehash(hashed):
            return
        new_hash = await self._hasher.hash_async(password)
        async with self._database.transaction(session) as db:
            await setter(db, user, new_hash)
        self._events.emit(EventName.PASSWORD_REHASHED, user_id=user_id, **ctx)

    async def change_password(
        self,
        user: UserT,
        new_password: str,
        keep_session_id: str | None,
        session: AsyncSession | None,
    ) -> int:
        """Store a new hash and end the user's other sessions (see the manager)."""
        setter = getattr(self._users, "set_password_hash", None)
        if setter is None:
            raise TypeError("change_password needs a user loader with set_password_hash().")
        new_hash = await self._hasher.hash_async(new_password)
        user_id = user_id_of(user)
        now = utcnow()
        async with self._database.transaction(session) as db:
            await setter(db, user, new_hash)
            count = await self._store.revoke_user(
                db, user_id, now=now, keep_session_id=keep_session_id, reason="password_changed"
            )
        # Its own event: an audit trail must tell a password change from a logout.
        self._events.emit(
            EventName.PASSWORD_CHANGED,
            user_id=user_id,
            session_id=keep_session_id,
            reason="password_changed",
            extra={"revoked": count},
        )
        return count
