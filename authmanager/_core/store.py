"""TokenStore: every SQL statement of authmanager. It knows nothing about JWTs.

Database errors are translated here, once, into `TokenStoreUnavailableError`, so the
rest of the library fails closed without seeing a foreign exception.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
)

from authmanager._core.clock import as_utc
from authmanager._core.database import STORE_ERRORS, Database
from authmanager._core.models import metadata, sessions, tokens, user_state
from authmanager._core.rows import SessionRow, TokenRow, TokenState, opt, session_row
from authmanager.exceptions import TokenStoreUnavailableError
from authmanager.loaders import JoinedUser

__all__ = ["SessionRow", "TokenRow", "TokenState", "TokenStore"]

logger = logging.getLogger("authmanager.store")


_STATE_QUERY = (
    select(
        tokens.c.type,
        tokens.c.user_id,
        tokens.c.session_id,
        tokens.c.revoked_at,
        sessions.c.revoked_at,
        sessions.c.expires_at,
        sessions.c.created_at,
        user_state.c.revoked_before,
        user_state.c.kept_session_id,
        sessions.c.fresh_until,
        sessions.c.device_id,
    )
    .select_from(tokens)
    .join(sessions, sessions.c.id == tokens.c.session_id)
    .outerjoin(user_state, user_state.c.user_id == sessions.c.user_id)
)

# Built once: a statement per request would cost more than the look-up (hot path).
_STATE_BY_JTI = _STATE_QUERY.where(tokens.c.jti == bindparam("jti"))


_SESSION_QUERY = select(
    sessions.c.id,
    sessions.c.user_id,
    sessions.c.created_at,
    sessions.c.last_used_at,
    sessions.c.expires_at,
    sessions.c.refresh_expires_at,
    sessions.c.revoked_at,
    sessions.c.user_agent,
    sessions.c.ip_address,
    sessions.c.device_id,
    sessions.c.claims,
    user_state.c.revoked_before,
    user_state.c.kept_session_id,
).select_from(sessions.outerjoin(user_state, user_state.c.user_id == sessions.c.user_id))


class TokenStore:
    """Async SQL over the token tables; one method per statement or short sequence."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._joined: dict[Any, Any] = {}

    # --- transactions (see `Database`) -------------------------------------------------
    def transaction(
        self, session: AsyncSession | None = None
    ) -> AbstractAsyncContextManager[AsyncSession]:
        """`Database.transaction`."""
        return self.database.transaction(session)

    def reading(
        self, session: AsyncSession | None = None
    ) -> AbstractAsyncContextManager[AsyncSession]:
        """`Database.reading`."""
        return self.database.reading(session)

    def connection(
        self, session: AsyncSession | None = None
    ) -> AbstractAsyncContextManager[AsyncSession | AsyncConnection]:
        """`Database.connection`."""
        return self.database.connection(session)

    def user_reading(
        self,
    ) -> AbstractAsyncContextManager[tuple[AsyncSession | AsyncConnection, AsyncSession]]:
        """`Database.user_reading`."""
        return self.database.user_reading()

    # --- writes at issue time --------------------------------------------------------
    async def insert_session(self, db: AsyncSession, **values: Any) -> None:
        """Insert one session row."""
        await db.execute(insert(sessions).values(**values))

    async def insert_tokens(self, db: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        """Insert token rows in one statement."""
        await db.execute(insert(tokens), list(rows))

    async def touch_session(
        self,
        db: AsyncSession,
        session_id: str,
        *,
        now: datetime,
        refresh_expires_at: datetime | None = None,
        fresh_until: datetime | None = None,
    ) -> None:
        """Record use of the session (on refresh), and its new refresh expiry."""
        values: dict[str, Any] = {"last_used_at": now}
        if refresh_expires_at is not None:
            values["refresh_expires_at"] = refresh_expires_at
        if fresh_until is not None:
            values["fresh_until"] = fresh_until
        await db.execute(update(sessions).where(sessions.c.id == session_id).values(**values))

    # --- reads -----------------------------------------------------------------------
    async def token_state(self, db: AsyncSession | AsyncConnection, jti: str) -> TokenState | None:
        """Return everything verification needs about *jti*, in one statement."""
        row = (await db.execute(_STATE_BY_JTI, {"jti": jti})).first()
        return None if row is None else _state(row)

    async def token_state_with_user(
        self, db: AsyncSession, jti: str, user: JoinedUser
    ) -> tuple[TokenState | None, Any]:
        """Return the state of *jti* and the user row *user* names, in one round trip.

        The statement is built once per user model; the user comes back as the ORM
        object the loader's `get_user` would have returned.
        """
        statement = self._joined.get(user.entity)
        if statement is None:
            statement = (
                _STATE_QUERY.add_columns(user.entity)
                .outerjoin(user.entity, user.onclause)
                .where(tokens.c.jti == bindparam("jti"))
            )
            self._joined[user.entity] = statement
        row = (await db.execute(statement, {"jti": jti, **user.params})).first()
        if row is None:
            return None, None
        return _state(row), row[-1]

    async def get_token(self, db: AsyncSession, jti: str) -> TokenRow | None:
        """Return the stored row of *jti*, or None."""
        row = (
            await db.execute(
                select(
                    tokens.c.jti,
                    tokens.c.session_id,
                    tokens.c.user_id,
                    tokens.c.type,
                    tokens.c.expires_at,
                    tokens.c.revoked_at,
                    tokens.c.revoke_reason,
                    tokens.c.issued_at,
                    tokens.c.replaced_by,
                ).where(tokens.c.jti == jti)
            )
        ).first()
        if row is None:
            return None
        return TokenRow(
            jti=row.jti,
            session_id=row.session_id,
            user_id=row.user_id,
            type=row.type,
            expires_at=as_utc(row.expires_at),
            revoked_at=opt(row.revoked_at),
            revoke_reason=row.revoke_reason,
            issued_at=opt(row.issued_at),
            replaced_by=row.replaced_by,
        )

    async def get_session(self, db: AsyncSession, session_id: str) -> SessionRow | None:
        """Return one session with its user's revoke-all watermark, or None."""
        row = (await db.execute(_SESSION_QUERY.where(sessions.c.id == session_id))).first()
        return None if row is None else session_row(row)

    async def list_sessions(
        self, db: AsyncSession, user_id: str, now: datetime
    ) -> list[SessionRow]:
        """Return the user's login sessions that are still usable, newest first."""
        query = _SESSION_QUERY.where(
            sessions.c.user_id == user_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > now,
            sessions.c.refresh_expires_at > now,
        ).order_by(sessions.c.created_at.desc())
        rows = [session_row(row) for row in (await db.execute(query)).all()]
        return [row for row in rows if row.alive(now)]

    # --- rotation --------------------------------------------------------------------
    async def lock_session(
        self, db: AsyncSession, session_id: str, user: JoinedUser | None = None
    ) -> tuple[SessionRow | None, Any]:
        """Lock the session row (PostgreSQL `FOR UPDATE`) and return it, before its tokens.

        Revocation updates the session, then its tokens; rotation takes the same order
        so the two serialise instead of deadlocking (SQLite's writers already do). With
        *user*, the user row comes back in the same statement (else None).
        """
        query = _SESSION_QUERY.where(sessions.c.id == session_id)
        if user is not None:
            query = query.add_columns(user.entity).outerjoin(user.entity, user.onclause)
        params = {} if user is None else user.params
        locked = query.with_for_update(of=sessions)
        row = (await db.execute(locked, params)).first()
        if row is None:
            return None, None
        return session_row(row), (row[-1] if user is not None else None)

    async def consume_refresh(
        self, db: AsyncSession, jti: str, *, replaced_by: str, now: datetime
    ) -> str | None:
        """Consume a live refresh token in one conditional UPDATE; return its session id.

        Of many concurrent calls for one token, exactly one gets a session id: the
        database serialises the update and the others find `revoked_at` already set.
        """
        statement = (
            update(tokens)
            .where(
                tokens.c.jti == jti,
                tokens.c.type == "refresh",
                tokens.c.revoked_at.is_(None),
                tokens.c.expires_at > now,
            )
            .values(revoked_at=now, revoke_reason="rotated", replaced_by=replaced_by)
            .returning(tokens.c.session_id)
        )
        session_id: str | None = (await db.execute(statement)).scalar_one_or_none()
        return session_id

    # --- revocation ------------------------------------------------------------------
    async def invalidate_cache(self) -> None:
        """Make every process, on every host, drop its cached token states."""
        async with self.transaction() as db:
            await self.database.revoking(db, [("*", "")])

    async def revoke_token(self, db: AsyncSession, jti: str, *, now: datetime, reason: str) -> bool:
        """Revoke one token; return whether it was live."""
        await self.database.revoking(db, [("t", jti)])
        result = await db.execute(
            update(tokens)
            .where(tokens.c.jti == jti, tokens.c.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_session(
        self,
        db: AsyncSession,
        session_id: str,
        *,
        now: datetime,
        reason: str,
        user_id: str | None = None,
    ) -> int:
        """End one session and its tokens; return the count of tokens revoked (-1: none).

        With *user_id*, only a session of that user is touched.
        """
        await self.database.revoking(db, [("s", session_id)])
        # An expired session is already over: ending it again reports nothing.
        where = [
            sessions.c.id == session_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > now,
        ]
        if user_id is not None:
            where.append(sessions.c.user_id == user_id)
        ended = await db.execute(
            update(sessions).where(*where).values(revoked_at=now, revoke_reason=reason)
        )
        if not ended.rowcount:  # type: ignore[attr-defined]
            return -1
        result = await db.execute(
            update(tokens)
            .where(tokens.c.session_id == session_id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_user(
        self,
        db: AsyncSession,
        user_id: str,
        *,
        now: datetime,
        keep_session_id: str | None,
        reason: str,
    ) -> int:
        """End every session of the user except *keep_session_id*; return tokens revoked.

        Writes the user's watermark first, so a session whose login raced with this
        call (created before *now*, committed after) is dead as well.
        """
        await self.database.revoking(db, [("u", user_id)])
        await self._set_watermark(db, user_id, now, keep_session_id)
        keep = [] if keep_session_id is None else [sessions.c.id != keep_session_id]
        await db.execute(
            update(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None), *keep)
            .values(revoked_at=now, revoke_reason=reason)
        )
        keep_tokens = [] if keep_session_id is None else [tokens.c.session_id != keep_session_id]
        result = await db.execute(
            update(tokens)
            .where(
                tokens.c.user_id == user_id,
                tokens.c.revoked_at.is_(None),
                tokens.c.expires_at > now,
                *keep_tokens,
            )
            .values(revoked_at=now, revoke_reason=reason)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _set_watermark(
        self, db: AsyncSession, user_id: str, now: datetime, keep: str | None
    ) -> None:
        values = {"revoked_before": now, "kept_session_id": keep}
        updated = await db.execute(
            update(user_state).where(user_state.c.user_id == user_id).values(**values)
        )
        if not updated.rowcount:  # type: ignore[attr-defined]
            dialect = db.bind.dialect.name if db.bind is not None else ""
            await db.execute(_upsert(dialect, user_id, values))

    # --- maintenance -----------------------------------------------------------------
    async def purge(self, db: AsyncSession, *, now: datetime) -> int:
        """Delete expired token rows, then sessions left with nothing; return tokens deleted."""
        # A token within its leeway may lose its row: every cached state goes.
        await self.database.revoking(db, [("*", "")])
        dead_sessions = select(sessions.c.id).where(sessions.c.expires_at <= now)
        result = await db.execute(
            delete(tokens).where(
                or_(tokens.c.expires_at <= now, tokens.c.session_id.in_(dead_sessions))
            )
        )
        await db.execute(
            delete(sessions).where(
                or_(
                    sessions.c.expires_at <= now,
                    and_(
                        ~exists().where(tokens.c.session_id == sessions.c.id),
                        or_(
                            sessions.c.refresh_expires_at.is_(None),
                            sessions.c.refresh_expires_at <= now,
                            sessions.c.revoked_at.is_not(None),
                        ),
                    ),
                )
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    async def create_tables(engine: AsyncEngine) -> None:
        """Create the token tables if they do not exist."""
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
        except STORE_ERRORS as exc:
            raise TokenStoreUnavailableError() from exc


def _state(row: Any) -> TokenState:
    return TokenState(
        type=row[0],
        user_id=row[1],
        session_id=row[2],
        revoked_at=opt(row[3]),
        session_revoked_at=opt(row[4]),
        session_expires_at=as_utc(row[5]),
        session_created_at=as_utc(row[6]),
        revoked_before=opt(row[7]),
        kept_session_id=row[8],
        fresh_until=opt(row[9]),
        device_id=row[10],
    )


def _upsert(dialect: str, user_id: str, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE for the watermark row (two writers may race)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(user_state).values(user_id=user_id, **values)
        return pg.on_conflict_do_update(index_elements=[user_state.c.user_id], set_=values)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    lite = sqlite_insert(user_state).values(user_id=user_id, **values)
    return lite.on_conflict_do_update(index_elements=[user_state.c.user_id], set_=values)
