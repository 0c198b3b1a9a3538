"""Starting sessions: tracked access tokens and login pairs (manager helpers)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.issuer import Minted, SessionClaims, new_id, split_data
from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.hooks import EventName

if TYPE_CHECKING:
    from authmanager._manager import AuthManager

__all__ = ["create_access_token", "create_token_pair"]


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


async def create_access_token(
    auth: AuthManager[Any],
    data: Mapping[str, Any],
    *,
    audience: str | None,
    issuer: str | None,
    expires_in: timedelta | None,
    session: AsyncSession | None,
) -> str:
    """Issue one tracked access token in a session of its own (see the manager)."""
    sub, custom = split_data(data)
    now = utcnow()
    life = auth._issuer.access_lifetime if expires_in is None else expires_in
    if life <= timedelta(0):
        raise ValueError("expires_in must be positive.")
    sid, claims, minted = new_id(), SessionClaims(custom, audience, issuer), Minted()
    jti = auth._issuer.mint(
        minted,
        token_type="access",
        sub=sub,
        session_id=sid,
        claims=claims,
        now=now,
        session_end=now + life,
        lifetime=life,
    )
    async with auth._store.transaction(session) as db:
        await auth._store.insert_session(
            db,
            id=sid,
            user_id=sub,
            created_at=now,
            last_used_at=now,
            expires_at=now + life,
            refresh_expires_at=None,
            claims=claims.to_json(),
        )
        await auth._store.insert_tokens(db, minted.rows)
    auth._events.emit(EventName.TOKEN_ISSUED, user_id=sub, session_id=sid, token_id=jti)
    return minted.access_token


async def create_token_pair(
    auth: AuthManager[Any],
    data: Mapping[str, Any],
    *,
    audience: str | None,
    issuer: str | None,
    client: ClientInfo,
    fresh: bool,
    session: AsyncSession | None,
) -> TokenPair:
    """Start a login session with an access and a refresh token (see the manager)."""
    sub, custom = split_data(data)
    now = utcnow()
    binding = auth._binder.session_binding(client)
    sid, claims, minted = new_id(), SessionClaims(custom, audience, issuer, binding), Minted()
    end = now + auth._issuer.session_lifetime
    access_jti = auth._issuer.mint(
        minted,
        token_type="access",
        sub=sub,
        session_id=sid,
        claims=claims,
        now=now,
        session_end=end,
        extra={"fresh": True} if fresh else None,
    )
    auth._issuer.mint(
        minted,
        token_type="refresh",
        sub=sub,
        session_id=sid,
        claims=claims,
        now=now,
        session_end=end,
    )
    async with auth._store.transaction(session) as db:
        await auth._store.insert_session(
            db,
            id=sid,
            user_id=sub,
            created_at=now,
            last_used_at=now,
            expires_at=end,
            refresh_expires_at=minted.refresh_expires,
            claims=claims.to_json(),
            user_agent=_cut(client.user_agent, 512),
            ip_address=_cut(client.ip_address, 64),
            device_id=_cut(client.device_id, 128),
            dpop_jkt=client.dpop_jkt,
        )
        await auth._store.insert_tokens(db, minted.rows)
    auth._events.emit(
        EventName.TOKEN_ISSUED,
        user_id=sub,
        session_id=sid,
        token_id=access_jti,
        client_ip=client.ip_address,
        user_agent=client.user_agent,
    )
    return auth._issuer.pair(minted, sid, now)
