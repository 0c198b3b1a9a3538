"""purge_expired, create_tables, and the indexes the database really holds.

The metadata itself needs no database: tests/unit/test_metadata.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from authmanager import AuthManager, RevokedTokenError
from authmanager._core.models import sessions, tokens
from authmanager.exceptions import Reason
from authmanager.testing import test_settings
from tests.app import User, Users
from tests.conftest import MakeManager
from tests.support.clock import T0, frozen
from tests.support.factories import claims
from tests.support.rows import TABLES, count, session_rows, token_rows


async def test_purge_deletes_expired_rows_and_keeps_live_tokens(
    manager: AuthManager[User],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Expired tokens (and emptied sessions) go; live and rotated-but-unexpired stay."""
    with frozen(T0) as clock:
        first = await manager.create_token_pair(claims(user))
        service = await manager.create_access_token(claims(user), expires_in=timedelta(minutes=1))
        service_sid = (await manager.verify_token(service)).sid
        clock.tick(timedelta(hours=2))
        live = await manager.create_token_pair(claims(user))
        assert await manager.purge_expired() == 2  # first's access token, the service token
        assert await session_rows(session_factory, id=service_sid) == []
        assert await count(session_factory, tokens) == 3
        await manager.verify_token(live.access_token)
        rotated = await manager.refresh(first.refresh_token)
        clock.tick(timedelta(minutes=1))
        # The rotated refresh token is revoked but not expired: kept, so reuse is detected.
        assert await manager.purge_expired() == 0
        clock.tick(timedelta(minutes=1))
        with pytest.raises(RevokedTokenError) as info:
            await manager.refresh(first.refresh_token)
        assert info.value.reason == Reason.REUSED_REFRESH
        with pytest.raises(RevokedTokenError):
            await manager.verify_token(rotated.access_token)
        await manager.verify_token(live.access_token)
        clock.tick(timedelta(days=8))
        assert await manager.purge_expired() == 5
    assert await count(session_factory, tokens) == 0
    assert await count(session_factory, sessions) == 0


async def test_purge_on_an_empty_store_returns_zero(manager: AuthManager[User]) -> None:
    """Nothing expired: 0."""
    assert await manager.purge_expired() == 0


async def test_purge_removes_the_tokens_of_sessions_past_their_absolute_end(
    make_manager: MakeManager,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A session past session_max_age_days goes with all its rows."""
    auth = make_manager(session_max_age_days=1, refresh_token_expire_days=7)
    with frozen(T0) as clock:
        pair = await auth.create_token_pair(claims(user))
        clock.tick(timedelta(hours=23))
        await auth.refresh(pair.refresh_token)
        clock.tick(timedelta(hours=2))
        assert await auth.purge_expired() == 4
    assert await token_rows(session_factory, session_id=pair.session_id) == []
    assert await session_rows(session_factory, id=pair.session_id) == []


async def test_create_tables_is_idempotent(
    manager: AuthManager[User], user: User, engine: AsyncEngine
) -> None:
    """create_tables twice on existing tables changes nothing and loses no row."""
    pair = await manager.create_token_pair(claims(user))
    await manager.create_tables()
    await manager.create_tables(engine)
    await manager.verify_token(pair.access_token)


async def test_create_tables_builds_a_working_store_from_scratch(tmp_path: Path) -> None:
    """On an empty SQLite file, create_tables makes every table; a pair then verifies."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        auth = AuthManager(
            settings=test_settings(),
            session_factory=async_sessionmaker(engine, expire_on_commit=False),
            user_loader=Users(),
        )
        await auth.create_tables()
        await auth.create_tables()
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert names >= TABLES
        pair = await auth.create_token_pair({"sub": "42"})
        assert (await auth.verify_token(pair.access_token)).sub == "42"
    finally:
        await engine.dispose()


async def test_database_has_the_indexes(engine: AsyncEngine) -> None:
    """The created database really holds the hot-path indexes (both dialects)."""

    def read(conn: object) -> dict[str, set[tuple[str, ...]]]:
        insp = inspect(conn)
        return {
            name: {tuple(ix["column_names"]) for ix in insp.get_indexes(name)}  # type: ignore[misc]
            for name in ("authmanager_tokens", "authmanager_sessions")
        }

    async with engine.connect() as conn:
        found = await conn.run_sync(read)
        pk = await conn.run_sync(lambda c: inspect(c).get_pk_constraint("authmanager_tokens"))
    assert found["authmanager_tokens"] >= {("user_id",), ("session_id",), ("expires_at",)}
    assert found["authmanager_sessions"] >= {("user_id",), ("expires_at",)}
    assert pk["constrained_columns"] == ["jti"]
