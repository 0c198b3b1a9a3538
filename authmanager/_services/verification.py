"""Token verification against the store: the per-request hot path (manager helpers)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.store import TokenState
from authmanager._core.tokens import TokenPayload, TokenType
from authmanager._core.types import ClientInfo
from authmanager._services.login import user_is_active
from authmanager.exceptions import (
    AuthError,
    ExpiredTokenError,
    InvalidTokenError,
    Reason,
    RevokedTokenError,
)
from authmanager.hooks import EventName

if TYPE_CHECKING:
    from authmanager._manager import AuthManager

__all__ = ["check_state", "rejected", "verify", "verify_for_user"]

# Reasons for which the token's claims cannot be trusted even to name a user in an event.
_UNTRUSTED_IDS = frozenset(
    {
        Reason.MALFORMED,
        Reason.OVERSIZED,
        Reason.FORBIDDEN_HEADER,
        Reason.ALGORITHM,
        Reason.UNKNOWN_KEY,
        Reason.SIGNATURE,
    }
)


async def verify(
    auth: AuthManager[Any],
    token: str,
    *,
    token_type: TokenType,
    audience: str | None,
    issuer: str | None,
    client: ClientInfo | None,
    session: AsyncSession | None,
) -> TokenPayload:
    """Verify *token* fully (see `AuthManager.verify_token`)."""
    started = time.perf_counter()
    try:
        payload = auth._codec.decode(token, token_type=token_type, audience=audience, issuer=issuer)

        async def read() -> TokenState | None:
            async with auth._store.connection(session) as db:
                return await auth._store.token_state(db, payload.jti)

        await _check_live(auth, payload, read, cached=session is None and token_type == "access")
    except InvalidTokenError as exc:
        rejected(auth, exc, token, client)
        raise
    if auth._events.observes_latency:
        auth._events.observe_verify(time.perf_counter() - started)
    return payload


async def verify_for_user(
    auth: AuthManager[Any], token: str, client: ClientInfo
) -> tuple[TokenPayload, Any]:
    """Verify an access token and load its user on one connection (the hot path)."""
    started = time.perf_counter()
    try:
        payload = auth._codec.decode(token, token_type="access")
        async with auth._store.user_reading() as (conn, db):
            await _check_live(
                auth, payload, lambda: auth._store.token_state(conn, payload.jti), cached=True
            )
            user = await auth._users.get_user(db, payload.sub)
        if user is None:
            raise RevokedTokenError(
                "The token's user no longer exists.", reason=Reason.USER_NOT_FOUND
            )
        if not user_is_active(user):
            raise RevokedTokenError("The token's user is inactive.", reason=Reason.USER_INACTIVE)
    except InvalidTokenError as exc:
        rejected(auth, exc, token, client)
        raise
    if auth._events.observes_latency:
        auth._events.observe_verify(time.perf_counter() - started)
    return payload, user


async def _check_live(
    auth: AuthManager[Any],
    payload: TokenPayload,
    read: Callable[[], Awaitable[TokenState | None]],
    *,
    cached: bool,
) -> None:
    """Check the token's stored state: from the state cache on a live hit, else by *read*."""
    cache = auth._state_cache if cached else None
    state = None if cache is None else cache.lookup(payload.jti)
    if state is not None:
        check_state(payload, state, utcnow())
        return
    mark = None if cache is None else cache.mark()  # read before the SELECT
    state = await read()
    check_state(payload, state, utcnow())
    if cache is not None and mark is not None and state is not None:
        cache.store(payload.jti, mark, state)


def check_state(payload: TokenPayload, state: TokenState | None, now: datetime) -> None:
    """Raise unless the stored state lets *payload*'s token be used at *now*."""
    if state is None:
        raise RevokedTokenError("The token is unknown to the store.", reason=Reason.UNKNOWN_TOKEN)
    if (
        state.type != payload.type
        or state.session_id != payload.sid
        or state.user_id != payload.sub
    ):
        raise InvalidTokenError("The token does not match its record.")
    if state.revoked_at is not None:
        raise RevokedTokenError()
    if not state.session_alive(now):
        if state.session_revoked_at is None and state.session_expires_at <= now:
            raise ExpiredTokenError("The login session has expired.", reason=Reason.SESSION_EXPIRED)
        raise RevokedTokenError("The login session has ended.", reason=Reason.SESSION_REVOKED)


def rejected(
    auth: AuthManager[Any], exc: AuthError, token: object, client: ClientInfo | None
) -> None:
    """Report a refused token as a `token.rejected` event (never the token itself)."""
    if not auth._events.active:
        return
    client = client or ClientInfo()
    ids = _unverified_ids(token) if exc.reason not in _UNTRUSTED_IDS else {}
    auth._events.emit(
        EventName.TOKEN_REJECTED,
        reason=exc.reason,
        client_ip=client.ip_address,
        user_agent=client.user_agent,
        **ids,
    )


def _unverified_ids(token: object) -> dict[str, str]:
    """The ids of a signed-but-refused token, for its rejection event (never the token)."""
    import jwt

    try:
        claims = jwt.decode(str(token), options={"verify_signature": False})
    except Exception:
        return {}
    ids = {
        "user_id": claims.get("sub"),
        "session_id": claims.get("sid"),
        "token_id": claims.get("jti"),
    }
    return {k: v[:64] for k, v in ids.items() if isinstance(v, str)}
