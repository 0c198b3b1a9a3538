"""Refresh-token rotation and reuse detection (the manager's `refresh` family)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.issuer import Minted, SessionClaims, new_id
from authmanager._core.store import SessionRow, TokenRow
from authmanager._core.tokens import TokenPair, TokenPayload
from authmanager._core.types import ClientInfo
from authmanager._services.login import check_password
from authmanager._services.verification import rejected
from authmanager.exceptions import (
    AuthError,
    ExpiredTokenError,
    InvalidTokenError,
    RateLimitExceededError,
    Reason,
    RevokedTokenError,
)
from authmanager.hooks import EventName

if TYPE_CHECKING:
    from authmanager._manager import AuthManager

__all__ = ["reissue_access", "rotate"]


async def rotate(
    auth: AuthManager[Any], token: str, client: ClientInfo, session: AsyncSession | None
) -> TokenPair:
    """Consume *token* and mint a new pair in its session (see `AuthManager.refresh`)."""
    payload = _decode(auth, token, client)
    auth._binder.check_refresh(payload, token, client)
    await _limit(auth, token, client)
    now = utcnow()
    new_refresh_jti = new_id()
    failure: AuthError | None = None
    pair: TokenPair | None = None
    store = auth._store
    with _reported(auth, token, client):
        async with store.transaction(session) as db:
            await store.lock_session(db, payload.sid)
            sid = await store.consume_refresh(db, payload.jti, replaced_by=new_refresh_jti, now=now)
            if sid is None:
                # Not consumed: find out why. A reuse revokes the session, and that write
                # must commit, so the error is raised after the transaction ends.
                failure = await _diagnose(auth, db, payload, now, client)
            else:
                row = await _live_session(auth, db, payload, sid, now)
                pair = await _mint_rotation(auth, db, payload, row, now, new_refresh_jti)
    if failure is not None:
        rejected(auth, failure, token, client)
        raise failure
    assert pair is not None  # noqa: S101
    auth._events.emit(
        EventName.TOKEN_REFRESHED,
        user_id=payload.sub,
        session_id=payload.sid,
        token_id=new_refresh_jti,
        client_ip=client.ip_address,
        user_agent=client.user_agent,
    )
    return pair


async def reissue_access(
    auth: AuthManager[Any], token: str, client: ClientInfo, session: AsyncSession | None
) -> str:
    """Mint a new access token from a live refresh token, which stays (see the manager)."""
    payload = _decode(auth, token, client)
    auth._binder.check_refresh(payload, token, client)
    await _limit(auth, token, client)
    now = utcnow()
    failure: AuthError | None = None
    store = auth._store
    minted = Minted()
    with _reported(auth, token, client):
        async with store.transaction(session) as db:
            await store.lock_session(db, payload.sid)
            row_token = await store.get_token(db, payload.jti)
            if row_token is None or row_token.revoked_at is not None or row_token.expires_at <= now:
                failure = await _diagnose(auth, db, payload, now, client, row_token)
            else:
                row = await _live_session(auth, db, payload, payload.sid, now)
                end = min(row.expires_at, row_token.expires_at)
                auth._issuer.mint(
                    minted,
                    token_type="access",
                    sub=payload.sub,
                    session_id=row.id,
                    claims=SessionClaims.from_json(row.claims),
                    now=now,
                    session_end=end,
                )
                await store.insert_tokens(db, minted.rows)
                await store.touch_session(db, row.id, now=now)
    if failure is not None:
        rejected(auth, failure, token, client)
        raise failure
    auth._events.emit(
        EventName.TOKEN_REFRESHED,
        user_id=payload.sub,
        session_id=payload.sid,
        token_id=minted.rows[0]["jti"],
        client_ip=client.ip_address,
        user_agent=client.user_agent,
    )
    return minted.access_token


@contextmanager
def _reported(auth: AuthManager[Any], token: str, client: ClientInfo) -> Iterator[None]:
    """Report a refusal raised inside the block (session ended, user gone) as `token.rejected`."""
    try:
        yield
    except InvalidTokenError as exc:
        rejected(auth, exc, token, client)
        raise


async def _limit(auth: AuthManager[Any], token: str, client: ClientInfo) -> None:
    """Count one refresh against the client's IP; over the limit, report and raise."""
    try:
        await auth._limiter.hit_refresh(client.ip_address)
    except RateLimitExceededError as exc:
        rejected(auth, exc, token, client)
        raise


def _decode(auth: AuthManager[Any], token: str, client: ClientInfo) -> TokenPayload:
    try:
        return auth._codec.decode(token, token_type="refresh")
    except InvalidTokenError as exc:
        rejected(auth, exc, token, client)
        raise


async def _live_session(
    auth: AuthManager[Any], db: AsyncSession, payload: TokenPayload, sid: str, now: datetime
) -> SessionRow:
    """Return the session if it and its user may still mint tokens; raise otherwise."""
    row = await auth._store.get_session(db, sid)
    if row is None or row.id != payload.sid or row.user_id != payload.sub:
        raise InvalidTokenError("The refresh token does not match its record.")
    if not row.alive(now):
        if row.revoked_at is None and row.expires_at <= now:
            raise ExpiredTokenError("The login session has expired.", reason=Reason.SESSION_EXPIRED)
        raise RevokedTokenError("The login session has ended.", reason=Reason.SESSION_REVOKED)
    user = await auth._users.get_user(db, payload.sub)
    if user is None:
        raise RevokedTokenError(
            "The session's user no longer exists.", reason=Reason.USER_NOT_FOUND
        )
    if getattr(user, "is_active", True) is False:
        raise RevokedTokenError("The session's user is inactive.", reason=Reason.USER_INACTIVE)
    return row


async def _mint_rotation(
    auth: AuthManager[Any],
    db: AsyncSession,
    payload: TokenPayload,
    row: SessionRow,
    now: datetime,
    refresh_jti: str,
) -> TokenPair:
    claims = SessionClaims.from_json(row.claims)
    minted = Minted()
    issuer = auth._issuer
    issuer.mint(
        minted,
        token_type="access",
        sub=payload.sub,
        session_id=row.id,
        claims=claims,
        now=now,
        session_end=row.expires_at,
    )
    issuer.mint(
        minted,
        token_type="refresh",
        sub=payload.sub,
        session_id=row.id,
        claims=claims,
        now=now,
        session_end=row.expires_at,
        parent_jti=payload.jti,
        jti=refresh_jti,
    )
    await auth._store.insert_tokens(db, minted.rows)
    await auth._store.touch_session(db, row.id, now=now, refresh_expires_at=minted.refresh_expires)
    return issuer.pair(minted, row.id, now)


async def _diagnose(
    auth: AuthManager[Any],
    db: AsyncSession,
    payload: TokenPayload,
    now: datetime,
    client: ClientInfo,
    row: TokenRow | None = None,
) -> AuthError:
    """Explain why a refresh token was not usable; end the session on a genuine reuse."""
    row = row or await auth._store.get_token(db, payload.jti)
    if row is None or row.type != "refresh" or row.session_id != payload.sid:
        return RevokedTokenError("The refresh token is unknown.", reason=Reason.UNKNOWN_TOKEN)
    if row.revoked_at is None:
        return ExpiredTokenError("The refresh token has expired.")
    if row.revoke_reason != "rotated":
        return RevokedTokenError()
    if now - row.revoked_at <= auth._grace:
        return RevokedTokenError(
            "The refresh token was just rotated; use the newest one.",
            reason=Reason.ROTATED_RECENTLY,
        )
    count = await auth._store.revoke_session(db, row.session_id, now=now, reason="reuse_detected")
    if count >= 0:
        auth._events.emit(
            EventName.REFRESH_REUSE_DETECTED,
            user_id=row.user_id,
            session_id=row.session_id,
            token_id=row.jti,
            reason=Reason.REUSED_REFRESH,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
        )
    return RevokedTokenError(
        "A rotated refresh token was reused; the session has been ended.",
        reason=Reason.REUSED_REFRESH,
    )


async def fresh_access(
    auth: AuthManager[Any], payload: TokenPayload, password: str, client: ClientInfo
) -> tuple[str, int]:
    """Check the user's password again and mint a fresh access token in the same session."""
    store = auth._store
    login_key = f"user:{payload.sub}"
    ctx = {"client_ip": client.ip_address, "user_agent": client.user_agent, "user_id": payload.sub}
    async with auth._limiter.attempt(login_key):
        await check_password(
            auth,
            login_key,
            password,
            client,
            None,
            ctx,
            load=lambda db: auth._users.get_user(db, payload.sub),
        )
    now = utcnow()
    minted = Minted()
    async with store.transaction() as db:
        row = await _live_session(auth, db, payload, payload.sid, now)
        auth._issuer.mint(
            minted,
            token_type="access",
            sub=payload.sub,
            session_id=row.id,
            claims=SessionClaims.from_json(row.claims),
            now=now,
            session_end=row.expires_at,
            extra={"fresh": True},
        )
        await store.insert_tokens(db, minted.rows)
        await store.touch_session(db, row.id, now=now)
    auth._events.emit(
        EventName.TOKEN_ISSUED,
        user_id=payload.sub,
        session_id=payload.sid,
        token_id=minted.rows[0]["jti"],
        client_ip=client.ip_address,
        user_agent=client.user_agent,
        reason="fresh_login",
    )
    assert minted.access_expires is not None  # noqa: S101
    return minted.access_token, int((minted.access_expires - now).total_seconds())
