"""Helpers for the core tests: a frozen clock that asyncio ignores, and DB read-backs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager._core.models import sessions, tokens

#: A fixed instant for frozen-clock tests (aware, UTC).
T0 = datetime(2031, 3, 14, 9, 26, 53, tzinfo=UTC)


@contextmanager
def frozen(at: datetime = T0) -> Iterator[FrozenDateTimeFactory]:
    """Freeze wall-clock time at *at*; the event loop keeps its real monotonic clock."""
    with freeze_time(at, real_asyncio=True) as clock:
        yield clock


def claims(user: Any, **extra: Any) -> dict[str, Any]:
    """The `data` of a token for *user*: `sub` plus custom claims."""
    return {"sub": str(user.id), **extra}


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
