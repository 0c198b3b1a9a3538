"""Password logins: authenticate, rehash, change password, login claims (manager helpers)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.passwords import PasswordTooLongError
from authmanager._core.types import ClientInfo
from authmanager.exceptions import InvalidCredentialsError, RateLimitExceededError, Reason
from authmanager.hooks import EventName

if TYPE_CHECKING:
    from authmanager._manager import AuthManager

__all__ = [
    "authenticate",
    "change_password",
    "check_password",
    "login_claims",
    "login_failed",
    "user_is_active",
]


def user_is_active(user: object) -> bool:
    """Return False only for a user whose `is_active` is explicitly false."""
    return getattr(user, "is_active", True) is not False


async def authenticate(
    auth: AuthManager[Any],
    login: str,
    password: str,
    client: ClientInfo,
    session: AsyncSession | None,
) -> Any:
    """Check *login* and *password* (see `AuthManager.authenticate`)."""
    ctx = {"client_ip": client.ip_address, "user_agent": client.user_agent}
    async with auth._limiter.attempt(login):
        user, hashed = await check_password(
            auth,
            login,
            password,
            client,
            session,
            ctx,
            load=lambda db: auth._users.get_user_by_login(db, login),
        )
    user_id = str(user.id)
    await _upgrade_hash(auth, user, user_id, password, hashed, session, ctx)
    auth._events.emit(EventName.LOGIN_SUCCEEDED, user_id=user_id, **ctx)
    return user


async def check_password(
    auth: AuthManager[Any],
    login: str,
    password: str,
    client: ClientInfo,
    session: AsyncSession | None,
    ctx: Mapping[str, Any],
    *,
    load: Callable[[AsyncSession], Awaitable[Any]],
) -> tuple[Any, str]:
    """Check the limit, then the password of the user *load* finds; count and raise on failure.

    Call it holding `auth._limiter.attempt(login)`, so a burst cannot pass the check
    before its failures are counted.
    """
    try:
        await auth._limiter.check_login(client.ip_address, login)
    except RateLimitExceededError as exc:
        auth._events.emit(
            EventName.LOGIN_RATE_LIMITED,
            reason=Reason.RATE_LIMITED,
            extra={"retry_after": exc.retry_after},
            **ctx,
        )
        raise
    try:
        auth._passwords.check_length(password)
    except PasswordTooLongError:
        await login_failed(auth, client, login, Reason.PASSWORD_TOO_LONG, ctx)
    async with auth._store.reading(session) as db:
        user = await load(db)
    hashed = getattr(user, "hashed_password", None) if user is not None else None
    if not await auth._passwords.verify_async(password, hashed) or user is None:
        await login_failed(auth, client, login, Reason.BAD_CREDENTIALS, ctx)
    assert user is not None  # noqa: S101 - for the type checker
    assert hashed is not None  # noqa: S101
    if not user_is_active(user):
        await login_failed(
            auth, client, login, Reason.USER_INACTIVE, {**ctx, "user_id": str(user.id)}
        )
    return user, hashed


async def login_failed(
    auth: AuthManager[Any], client: ClientInfo, login: str, reason: Reason, ctx: Mapping[str, Any]
) -> None:
    """Count a failed login, report it, and raise `InvalidCredentialsError`."""
    await auth._limiter.record_failure(client.ip_address, login)
    auth._events.emit(EventName.LOGIN_FAILED, reason=reason, **ctx)
    raise InvalidCredentialsError(reason=reason)


async def _upgrade_hash(
    auth: AuthManager[Any],
    user: Any,
    user_id: str,
    password: str,
    hashed: str,
    session: AsyncSession | None,
    ctx: Mapping[str, Any],
) -> None:
    setter = getattr(auth._users, "set_password_hash", None)
    if setter is None or not auth._passwords.needs_rehash(hashed):
        return
    new_hash = await auth._passwords.hash_async(password)
    async with auth._store.transaction(session) as db:
        await setter(db, user, new_hash)
    auth._events.emit(EventName.PASSWORD_REHASHED, user_id=user_id, **ctx)


async def change_password(
    auth: AuthManager[Any],
    user: Any,
    new_password: str,
    keep_session_id: str | None,
    session: AsyncSession | None,
) -> int:
    """Store a new hash and end the user's other sessions (see the manager)."""
    setter = getattr(auth._users, "set_password_hash", None)
    if setter is None:
        raise TypeError("change_password needs a user loader with set_password_hash().")
    new_hash = await auth._passwords.hash_async(new_password)
    user_id = str(user.id)
    now = utcnow()
    async with auth._store.transaction(session) as db:
        await setter(db, user, new_hash)
        count = await auth._store.revoke_user(
            db, user_id, now=now, keep_session_id=keep_session_id, reason="password_changed"
        )
    auth._events.emit(
        EventName.LOGOUT_ALL,
        user_id=user_id,
        reason="password_changed",
        extra={"revoked": count},
    )
    return count


async def login_claims(auth: AuthManager[Any], user: Any) -> dict[str, Any]:
    """The claims of a password login: `sub`, plus the loader's `token_claims(user)`."""
    claims: dict[str, Any] = {}
    extra = getattr(auth._users, "token_claims", None)
    if extra is not None:
        produced = extra(user)
        if inspect.isawaitable(produced):
            produced = await produced
        claims.update(produced or {})
    claims["sub"] = str(user.id)
    return claims
