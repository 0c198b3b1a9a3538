"""Revocation and session listing (manager helpers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.tokens import TokenPayload
from authmanager._core.types import SessionInfo
from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason
from authmanager.hooks import EventName

if TYPE_CHECKING:
    from authmanager._manager import AuthManager

__all__ = ["end_session", "list_sessions", "revoke_all", "revoke_token"]


async def revoke_token(auth: AuthManager[Any], token: str, session: AsyncSession | None) -> bool:
    """Revoke one token; a refresh token ends its session (see the manager)."""
    try:
        payload = _decode_any(auth, token)
    except ExpiredTokenError:
        return False
    now = utcnow()
    async with auth._store.transaction(session) as db:
        if payload.type == "refresh":
            count = await auth._store.revoke_session(
                db, payload.sid, now=now, reason="revoked", user_id=payload.sub
            )
            live = count >= 0
        else:
            live = await auth._store.revoke_token(db, payload.jti, now=now, reason="revoked")
    if live:
        auth._events.emit(
            EventName.TOKEN_REVOKED,
            user_id=payload.sub,
            session_id=payload.sid,
            token_id=payload.jti,
            reason="revoked",
        )
    return live


def _decode_any(auth: AuthManager[Any], token: str) -> TokenPayload:
    try:
        return auth._codec.decode(token, token_type="access")
    except InvalidTokenError as exc:
        if exc.reason != Reason.WRONG_TYPE:
            raise
    return auth._codec.decode(token, token_type="refresh")


async def revoke_all(
    auth: AuthManager[Any],
    user_id: str,
    exclude_token_id: str | None,
    session: AsyncSession | None,
    event: EventName = EventName.TOKEN_REVOKED,
    **fields: Any,
) -> int:
    """`revoke_all_user_tokens`, reporting one *event* (`logout_all` from the route)."""
    now = utcnow()
    async with auth._store.transaction(session) as db:
        keep = None
        if exclude_token_id is not None:
            row = await auth._store.get_token(db, exclude_token_id)
            keep = row.session_id if row is not None and row.user_id == user_id else None
        count = await auth._store.revoke_user(
            db, str(user_id), now=now, keep_session_id=keep, reason="revoke_all"
        )
    base = {"session_id": keep, "reason": "revoke_all", "extra": {"revoked": count}}
    auth._events.emit(event, user_id=user_id, **{**base, **fields})
    return count


async def list_sessions(
    auth: AuthManager[Any], user_id: str, session: AsyncSession | None
) -> list[SessionInfo]:
    """Return the user's active login sessions, newest first."""
    now = utcnow()
    async with auth._store.reading(session) as db:
        rows = await auth._store.list_sessions(db, str(user_id), now)
    return [
        SessionInfo(
            id=row.id,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=min(row.expires_at, row.refresh_expires_at or row.expires_at),
            user_agent=row.user_agent,
            ip_address=row.ip_address,
        )
        for row in rows
    ]


async def end_session(
    auth: AuthManager[Any],
    user_id: str,
    session_id: str,
    session: AsyncSession | None,
    event: EventName = EventName.SESSION_REVOKED,
    **fields: Any,
) -> bool:
    """`revoke_session`, reporting one *event* (`logout` from the logout route)."""
    async with auth._store.transaction(session) as db:
        count = await auth._store.revoke_session(
            db, session_id, now=utcnow(), reason="session_revoked", user_id=user_id
        )
    if count < 0:
        return False
    base = {"reason": "session_revoked", "extra": {"revoked": count}}
    auth._events.emit(event, user_id=user_id, session_id=session_id, **{**base, **fields})
    return True
