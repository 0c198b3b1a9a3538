"""RevocationService: end one token, one session, or every session of a user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.store import TokenStore
from authmanager._core.tokens import TokenCodec, TokenPayload
from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason
from authmanager.hooks import EventName

__all__ = ["DEACTIVATED", "RevocationService", "UserRevoker"]

#: The revoke reason of every token and session `deactivate_user` ends.
DEACTIVATED = "user_deactivated"


class UserRevoker(Protocol):
    """Credentials of another capability that end with their user (`ApiKeyService`).

    `deactivate_user` calls each one with its own transaction's session, after ending
    the user's sessions, so all of it commits or nothing does.
    """

    async def revoke_user_keys(
        self, user_id: str, *, reason: str, session: AsyncSession | None = None
    ) -> int:  # pragma: no cover - protocol
        """Refuse every credential of *user_id* from now on; return how many were live."""
        ...


class RevocationService:
    """Revoke tokens and sessions; each revocation is reported as one event.

    Args:
        codec: Decodes the token to revoke (its signature must hold).
        store: The token tables.
        database: Transactions.
        events: Where the revocation events go.
        user_revokers: Other credentials that `deactivate_user` ends with the user's
            sessions (the API-key capability adds its own).
    """

    def __init__(
        self,
        *,
        codec: TokenCodec,
        store: TokenStore,
        database: Database,
        events: HookDispatcher,
        user_revokers: Sequence[UserRevoker] = (),
    ) -> None:
        self._codec = codec
        self._store = store
        self._database = database
        self._events = events
        self._user_revokers = tuple(user_revokers)

    async def revoke_token(self, token: str, session: AsyncSession | None) -> bool:
        """Revoke one token; a refresh token ends its session (see the manager)."""
        try:
            payload = self._decode_any(token)
        except ExpiredTokenError:
            return False
        now = utcnow()
        async with self._database.transaction(session) as db:
            if payload.type == "refresh":
                count = await self._store.revoke_session(
                    db, payload.sid, now=now, reason="revoked", user_id=payload.sub
                )
                live = count >= 0
            else:
                live = await self._store.revoke_token(db, payload.jti, now=now, reason="revoked")
        if live:
            self._events.emit(
                EventName.TOKEN_REVOKED,
                user_id=payload.sub,
                session_id=payload.sid,
                token_id=payload.jti,
                reason="revoked",
            )
        return live

    def _decode_any(self, token: str) -> TokenPayload:
        try:
            return self._codec.decode(token, token_type="access")
        except InvalidTokenError as exc:
            if exc.reason != Reason.WRONG_TYPE:
                raise
        return self._codec.decode(token, token_type="refresh")

    async def revoke_all(
        self,
        user_id: str,
        exclude_token_id: str | None,
        session: AsyncSession | None,
        event: EventName = EventName.TOKEN_REVOKED,
        **fields: Any,
    ) -> int:
        """`revoke_all_user_tokens`, reporting one *event* (`logout_all` from the route)."""
        now = utcnow()
        async with self._database.transaction(session) as db:
            keep = None
            if exclude_token_id is not None:
                row = await self._store.get_token(db, exclude_token_id)
                keep = row.session_id if row is not None and row.user_id == user_id else None
            count = await self._store.revoke_user(
                db, user_id, now=now, keep_session_id=keep, reason="revoke_all"
            )
        base = {"session_id": keep, "reason": "revoke_all", "extra": {"revoked": count}}
        self._events.emit(event, user_id=user_id, **{**base, **fields})
        return count

    async def revoke_user(
        self, user_id: str, *, reason: str, session: AsyncSession | None = None
    ) -> int:
        """End every session of the user (password reset, deactivation); return tokens revoked.

        Reports nothing itself: the flow that calls it reports its own event.

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        async with self._database.transaction(session) as db:
            return await self._store.revoke_user(
                db, user_id, now=utcnow(), keep_session_id=None, reason=reason
            )

    async def deactivate_user(self, user_id: str, *, session: AsyncSession | None = None) -> int:
        """End every session, token and credential of a deactivated or deleted user.

        Marks the user's state (the watermark that the one per-request query reads), so
        every path refuses the user's tokens from the next request on, including those
        of a login that raced with this call; revokes the tokens, then each
        `UserRevoker`'s credentials, in one transaction. Reports `user.deactivated`.

        Returns:
            The count of tokens (and other credentials) revoked.

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        now = utcnow()
        async with self._database.transaction(session) as db:
            count = await self._store.revoke_user(
                db, user_id, now=now, keep_session_id=None, reason=DEACTIVATED
            )
            for revoker in self._user_revokers:
                count += await revoker.revoke_user_keys(user_id, reason=DEACTIVATED, session=db)
        self._events.emit(
            EventName.USER_DEACTIVATED,
            user_id=user_id,
            reason=DEACTIVATED,
            extra={"revoked": count},
        )
        return count

    async def end_session(
        self,
        user_id: str,
        session_id: str,
        session: AsyncSession | None,
        event: EventName = EventName.SESSION_REVOKED,
        **fields: Any,
    ) -> bool:
        """`revoke_session`, reporting one *event* (`logout` from the logout route)."""
        async with self._database.transaction(session) as db:
            count = await self._store.revoke_session(
                db, session_id, now=utcnow(), reason="session_revoked", user_id=user_id
            )
        if count < 0:
            return False
        base = {"reason": "session_revoked", "extra": {"revoked": count}}
        self._events.emit(event, user_id=user_id, session_id=session_id, **{**base, **fields})
        return True

    async def purge_expired(self, session: AsyncSession | None) -> int:
        """Delete expired rows of the token tables; return the count of tokens deleted."""
        async with self._database.transaction(session) as db:
            return await self._store.purge(db, now=utcnow())
