"""Direct reads of the token tables, to assert the database state behind an answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager._core.models import dpop_proofs, sessions, tokens

#: The tables `authmanager.metadata` must hold.
TABLES = {"authmanager_sessions", "authmanager_tokens", "authmanager_user_state"}


async def token_rows(factory: async_sessionmaker[AsyncSession], **where: Any) -> list[Any]:
    """Return the rows of `authmanager_tokens` matching *where* (column=value)."""
    query = select(tokens).filter_by(**where).order_by(tokens.c.issued_at, tokens.c.type)
    async with factory() as db:
        return list((await db.execute(query)).all())


async def session_rows(factory: async_sessionmaker[AsyncSession], **where: Any) -> list[Any]:
    """Return the rows of `authmanager_sessions` matching *where*."""
    async with factory() as db:
        return list((await db.execute(select(sessions).filter_by(**where))).all())


async def count(factory: async_sessionmaker[AsyncSession], table: Any) -> int:
    """Return the number of rows in *table*."""
    async with factory() as db:
        return int((await db.execute(select(func.count()).select_from(table))).scalar_one())


async def session_row(factory: async_sessionmaker[AsyncSession], sid: str) -> Any:
    """Return the one `authmanager_sessions` row of session *sid*."""
    return await Tables(factory).session(sid)


async def proof_rows(factory: async_sessionmaker[AsyncSession]) -> int:
    """Return the number of DPoP proofs remembered (replay protection)."""
    return await count(factory, dpop_proofs)


class Tables:
    """Reads the token store's rows, to assert the database state behind an answer."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory

    async def session(self, sid: str) -> Any:
        async with self._factory() as db:
            return (await db.execute(select(sessions).where(sessions.c.id == sid))).one()

    async def token(self, jti: str) -> Any:
        async with self._factory() as db:
            return (await db.execute(select(tokens).where(tokens.c.jti == jti))).one()

    async def live_sessions(self, user_id: str) -> list[str]:
        async with self._factory() as db:
            rows = await db.execute(
                select(sessions.c.id).where(
                    sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)
                )
            )
            return sorted(r.id for r in rows)


@dataclass(frozen=True)
class Snapshot:
    """Counts of rows and of revoked rows in the token tables."""

    tokens: int
    revoked_tokens: int
    sessions: int
    revoked_sessions: int


async def snapshot(factory: async_sessionmaker[AsyncSession]) -> Snapshot:
    """Count the token tables' rows, to show an attack changed nothing stored."""
    async with factory() as db:

        async def count(table: Any, revoked: bool) -> int:
            query = select(func.count()).select_from(table)
            if revoked:
                query = query.where(table.c.revoked_at.is_not(None))
            return int((await db.execute(query)).scalar_one())

        return Snapshot(
            await count(tokens, False),
            await count(tokens, True),
            await count(sessions, False),
            await count(sessions, True),
        )
