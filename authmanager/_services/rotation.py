"""RotationService: refresh-token rotation and reuse detection (the `refresh` family)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.issuer import Issuer, Minted, SessionClaims, new_id
from authmanager._core.loginlimit import LoginLimiter
from authmanager._core.rows import SessionRow, TokenRow
from authmanager._core.store import TokenStore
from authmanager._core.tokens import TokenCodec, TokenPair, TokenPayload, TokenType
from authmanager._core.types import ClientInfo
from authmanager._services.binding import Binder
from authmanager._services.rejections import RejectionReporter
from authmanager._services.sessions import SessionService
from authmanager.exceptions import (
    AuthError,
    ExpiredTokenError,
    InvalidTokenError,
    RateLimitExceededError,
    Reason,
    RevokedTokenError,
)
from authmanager.hooks import EventName

__all__ = ["RotationService"]


class RotationService:
    """Consume refresh tokens: rotate them, or mint access tokens from them.

    Args:
        codec: Decodes the refresh token.
        store: The token tables (the conditional consuming UPDATE).
        database: Transactions.
        issuer: Mints the successor tokens.
        sessions: Decides whether the session and its user may still mint tokens.
        binder: Checks the refresh token's binding against the client.
        limiter: The refresh rate limit (per session).
        reporter: Reports refusals as `token.rejected`.
        events: Where `token.refreshed` and `refresh.reuse_detected` go.
        grace: How long after its rotation a reused token only is refused (or retried).
        retries: Give a token rotated within *grace* its unused successor again.
    """

    def __init__(
        self,
        *,
        codec: TokenCodec,
        store: TokenStore,
        database: Database,
        issuer: Issuer,
        sessions: SessionService[Any],
        binder: Binder,
        limiter: LoginLimiter,
        reporter: RejectionReporter,
        events: HookDispatcher,
        grace: timedelta,
        retries: bool = True,
    ) -> None:
        self._codec = codec
        self._store = store
        self._database = database
        self._issuer = issuer
        self._sessions = sessions
        self._binder = binder
        self._limiter = limiter
        self._reporter = reporter
        self._events = events
        self._grace = grace
        self._retries = retries

    async def rotate(
        self, token: str, client: ClientInfo, session: AsyncSession | None
    ) -> TokenPair:
        """Consume *token* and mint a new pair in its session (see `AuthManager.refresh`)."""
        payload = await self._admit(token, client)
        now = utcnow()
        new_refresh_jti = new_id()
        failure: AuthError | None = None
        pair: TokenPair | None = None
        store = self._store
        with self._reported(token, client):
            async with self._database.transaction(session) as db:
                locked = await self._sessions.lock(db, payload)
                sid = await store.consume_refresh(
                    db, payload.jti, replaced_by=new_refresh_jti, now=now
                )
                retry: TokenRow | None = None
                if sid is None:
                    # Not consumed: a retry whose first answer was lost gets that answer
                    # again; anything else is diagnosed. A reuse revokes the session, and
                    # that write must commit, so the error is raised after the transaction.
                    used = await store.get_token(db, payload.jti)
                    retry = await self._successor(db, payload, used, now)
                    if retry is None:
                        failure = await self._diagnose(db, payload, now, client, used)
                    else:
                        row = await self._sessions.require_live(db, payload, locked, now)
                        pair = await self._mint_retry(db, payload, row, now, retry)
                else:
                    row = await self._sessions.require_live(db, payload, locked, now)
                    pair = await self._mint_rotation(db, payload, row, now, new_refresh_jti)
        if failure is not None:
            self._reporter.report(failure, token, client)
            raise failure
        assert pair is not None  # noqa: S101
        self._events.emit(
            EventName.TOKEN_REFRESHED,
            user_id=payload.sub,
            session_id=payload.sid,
            token_id=new_refresh_jti if retry is None else retry.jti,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            reason=None if retry is None else "retry",
        )
        return pair

    async def _successor(
        self, db: AsyncSession, payload: TokenPayload, used: TokenRow | None, now: datetime
    ) -> TokenRow | None:
        """The live successor of a token rotated within the grace window, when a retry may have it.

        RFC 9700 §4.14: a client whose refresh answer was lost (a dropped connection, a
        restart after the commit) presents the same token again. Within
        `refresh_reuse_grace_seconds`, while the successor has not been used, it is given
        that same successor again: one live refresh token per session still, and whoever
        uses it second triggers reuse detection, so a thief gains nothing.
        """
        if (
            not self._retries
            or used is None
            or used.type != "refresh"
            or used.session_id != payload.sid
            or used.revoke_reason != "rotated"
            or used.revoked_at is None
            or now - used.revoked_at > self._grace
            or used.replaced_by is None
        ):
            return None
        successor = await self._store.get_token(db, used.replaced_by)
        if (
            successor is None
            or successor.revoked_at is not None
            or successor.expires_at <= now
            or successor.issued_at is None
        ):
            return None
        return successor

    async def _mint_retry(
        self,
        db: AsyncSession,
        payload: TokenPayload,
        row: SessionRow,
        now: datetime,
        successor: TokenRow,
    ) -> TokenPair:
        """The successor refresh token again (same id and times), with a new access token."""
        assert successor.issued_at is not None  # noqa: S101 - checked by `_successor`
        claims = SessionClaims.from_json(row.claims)
        minted = Minted()
        self._issuer.mint(
            minted,
            token_type="access",
            sub=payload.sub,
            session_id=row.id,
            claims=claims,
            now=now,
            session_end=row.expires_at,
        )
        self._issuer.mint(
            minted,
            token_type="refresh",
            sub=payload.sub,
            session_id=row.id,
            claims=claims,
            now=successor.issued_at,
            session_end=row.expires_at,
            lifetime=successor.expires_at - successor.issued_at,
            jti=successor.jti,
        )
        await self._store.insert_tokens(db, [r for r in minted.rows if r["type"] == "access"])
        await self._store.touch_session(db, row.id, now=now)
        return self._issuer.pair(minted, row.id, now)

    async def reissue_access(
        self, token: str, client: ClientInfo, session: AsyncSession | None
    ) -> str:
        """Mint a new access token from a live refresh token, which stays (see the manager)."""
        payload = await self._admit(token, client)
        now = utcnow()
        failure: AuthError | None = None
        store = self._store
        minted = Minted()
        with self._reported(token, client):
            async with self._database.transaction(session) as db:
                locked = await self._sessions.lock(db, payload)
                row_token = await store.get_token(db, payload.jti)
                if (
                    row_token is None
                    or row_token.revoked_at is not None
                    or row_token.expires_at <= now
                ):
                    failure = await self._diagnose(db, payload, now, client, row_token)
                else:
                    row = await self._sessions.require_live(db, payload, locked, now)
                    self._issuer.mint(
                        minted,
                        token_type="access",
                        sub=payload.sub,
                        session_id=row.id,
                        claims=SessionClaims.from_json(row.claims),
                        now=now,
                        session_end=min(row.expires_at, row_token.expires_at),
                    )
                    await store.insert_tokens(db, minted.rows)
                    await store.touch_session(db, row.id, now=now)
        if failure is not None:
            self._reporter.report(failure, token, client)
            raise failure
        self._events.emit(
            EventName.TOKEN_REFRESHED,
            user_id=payload.sub,
            session_id=payload.sid,
            token_id=minted.rows[0]["jti"],
            client_ip=client.ip_address,
            user_agent=client.user_agent,
        )
        return minted.access_token

    async def _admit(self, token: str, client: ClientInfo) -> TokenPayload:
        """Decode *token*, check its binding and the refresh limit; report any refusal."""
        try:
            payload = self._codec.decode(token, token_type="refresh")
        except InvalidTokenError as exc:
            self._reporter.report(exc, token, client)
            raise
        self._binder.check_refresh(payload, token, client)
        try:
            await self._limiter.hit_refresh(payload.sid)
        except RateLimitExceededError as exc:
            self._reporter.report(exc, token, client)
            raise
        return payload

    @contextmanager
    def _reported(self, token: str, client: ClientInfo) -> Iterator[None]:
        """Report a refusal raised inside the block (session ended, user gone)."""
        try:
            yield
        except InvalidTokenError as exc:
            self._reporter.report(exc, token, client)
            raise

    async def _mint_rotation(
        self,
        db: AsyncSession,
        payload: TokenPayload,
        row: SessionRow,
        now: datetime,
        refresh_jti: str,
    ) -> TokenPair:
        claims = SessionClaims.from_json(row.claims)
        minted = Minted()
        token_types: tuple[TokenType, ...] = ("access", "refresh")
        for token_type in token_types:
            self._issuer.mint(
                minted,
                token_type=token_type,
                sub=payload.sub,
                session_id=row.id,
                claims=claims,
                now=now,
                session_end=row.expires_at,
                parent_jti=payload.jti if token_type == "refresh" else None,
                jti=refresh_jti if token_type == "refresh" else None,
            )
        await self._store.insert_tokens(db, minted.rows)
        await self._store.touch_session(
            db, row.id, now=now, refresh_expires_at=minted.refresh_expires
        )
        return self._issuer.pair(minted, row.id, now)

    async def _diagnose(
        self,
        db: AsyncSession,
        payload: TokenPayload,
        now: datetime,
        client: ClientInfo,
        row: TokenRow | None = None,
    ) -> AuthError:
        """Explain why a refresh token was not usable; end the session on a genuine reuse."""
        row = row or await self._store.get_token(db, payload.jti)
        if row is None or row.type != "refresh" or row.session_id != payload.sid:
            return RevokedTokenError("The refresh token is unknown.", reason=Reason.UNKNOWN_TOKEN)
        if row.revoked_at is None:
            return ExpiredTokenError("The refresh token has expired.")
        if row.revoke_reason != "rotated":
            return RevokedTokenError()
        if now - row.revoked_at <= self._grace:
            return RevokedTokenError(
                "The refresh token was just rotated; use the newest one.",
                reason=Reason.ROTATED_RECENTLY,
            )
        count = await self._store.revoke_session(
            db, row.session_id, now=now, reason="reuse_detected"
        )
        if count >= 0:
            self._events.emit(
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
