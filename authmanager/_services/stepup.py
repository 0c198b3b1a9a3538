"""StepUpService: re-check the password for a fresh access token in the same session."""

from __future__ import annotations

from typing import Any

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.issuer import Issuer, Minted, SessionClaims
from authmanager._core.store import TokenStore
from authmanager._core.tokens import TokenPayload
from authmanager._core.types import ClientInfo
from authmanager._services.logins import LoginService
from authmanager._services.sessions import SessionService
from authmanager.hooks import EventName
from authmanager.loaders import UserLoader

__all__ = ["StepUpService"]


class StepUpService:
    """Mint fresh access tokens (for `fresh_user`) after a second password check.

    Args:
        logins: Checks the password, with the login limits.
        sessions: Decides whether the session and its user may still mint tokens.
        users: The application's loader.
        issuer: Mints the fresh token.
        store: The token tables.
        database: Transactions.
        events: Where `token.issued` goes.
    """

    def __init__(
        self,
        *,
        logins: LoginService[Any],
        sessions: SessionService[Any],
        users: UserLoader[Any],
        issuer: Issuer,
        store: TokenStore,
        database: Database,
        events: HookDispatcher,
    ) -> None:
        self._logins = logins
        self._sessions = sessions
        self._users = users
        self._issuer = issuer
        self._store = store
        self._database = database
        self._events = events

    async def fresh_access(
        self, payload: TokenPayload, password: str, client: ClientInfo
    ) -> tuple[str, int]:
        """Check the user's password again; mint a fresh access token in the same session.

        Raises:
            InvalidCredentialsError: the password is wrong.
            RateLimitExceededError: too many failed attempts.
            RevokedTokenError, ExpiredTokenError: the session or its user is gone.
        """
        ctx = {
            "client_ip": client.ip_address,
            "user_agent": client.user_agent,
            "user_id": payload.sub,
        }
        # Counted per user id, in a key space of its own: no login name can reach it.
        async with self._logins.attempt(ip=client.ip_address, user_id=payload.sub) as attempt:
            await self._logins.check_password(
                attempt,
                password,
                None,
                ctx,
                load=lambda db: self._users.get_user(db, payload.sub),
            )
        now = utcnow()
        minted = Minted()
        async with self._database.transaction() as db:
            row = await self._sessions.live_session(db, payload, payload.sid, now)
            self._issuer.mint(
                minted,
                token_type="access",
                sub=payload.sub,
                session_id=row.id,
                claims=SessionClaims.from_json(row.claims),
                now=now,
                session_end=row.expires_at,
                extra={"fresh": True},
            )
            await self._store.insert_tokens(db, minted.rows)
            await self._store.touch_session(db, row.id, now=now)
        self._events.emit(
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
