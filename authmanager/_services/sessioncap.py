"""SessionCap: `max_sessions_per_user`, enforced in the transaction that starts a session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.events import HookDispatcher
from authmanager._core.locks import lock_user
from authmanager._core.store import TokenStore
from authmanager._core.types import ClientInfo
from authmanager.hooks import EventName

__all__ = ["EVICTED", "SessionCap"]

#: The revoke reason of a session ended to make room for a new login.
EVICTED = "evicted"


class SessionCap:
    """End a user's least recently used login sessions beyond *limit*.

    `make_room` runs in the transaction that has just inserted the new session. It
    takes the user's lock first, so of concurrent logins of one user each sees every
    session the others committed, and the last to commit trims the set: the committed
    state never holds more than *limit* live login sessions. Sessions without a refresh
    token (service tokens, impersonation) are neither counted nor evicted.

    Args:
        store: The token tables.
        limit: The most live login sessions a user may hold.
        events: Where `session.evicted` goes.
    """

    def __init__(self, *, store: TokenStore, limit: int, events: HookDispatcher) -> None:
        if limit < 1:
            raise ValueError("max_sessions_per_user must be at least 1.")
        self._store = store
        self.limit = limit
        self._events = events

    async def make_room(
        self, db: AsyncSession, user_id: str, new_session_id: str, now: datetime
    ) -> list[str]:
        """Evict what the new session *new_session_id* pushes past the cap; return their ids."""
        await lock_user(db, "sessions", user_id)
        rows = await self._store.list_sessions(db, user_id, now)
        others = [r for r in rows if r.id != new_session_id and r.impersonated_by is None]
        # Least recently used last: `last_used_at` moves on every refresh.
        others.sort(key=lambda r: (r.last_used_at, r.created_at, r.id), reverse=True)
        evicted = [r.id for r in others[self.limit - 1 :]]
        for session_id in evicted:
            await self._store.revoke_session(
                db, session_id, now=now, reason=EVICTED, user_id=user_id
            )
        return evicted

    def report(
        self, user_id: str, evicted: Sequence[str], new_session_id: str, client: ClientInfo
    ) -> None:
        """Emit one `session.evicted` per evicted session (after the commit)."""
        for session_id in evicted:
            self._events.emit(
                EventName.SESSION_EVICTED,
                user_id=user_id,
                session_id=session_id,
                client_ip=client.ip_address,
                user_agent=client.user_agent,
                reason=EVICTED,
                extra={"limit": self.limit, "new_session_id": new_session_id},
            )
