"""The state cache across processes: a real second process, and PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import AuthManager, RevokedTokenError
from tests.app import User
from tests.conftest import MakeManager
from tests.support.spies import counting
from tests.support.statecache import cached_token

ROOT = Path(__file__).resolve().parents[2]

#: The other worker process: its own manager on the same database and epoch file.
REVOKER = """
import asyncio, sys
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from authmanager import AuthManager
from authmanager.testing import test_settings
from tests.app import Users

async def main(url, token, epoch):
    engine = create_async_engine(url)
    extra = {"state_cache_epoch_file": epoch} if epoch else {}
    auth = AuthManager(
        settings=test_settings(state_cache="local", **extra),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
    )
    assert await auth.revoke_token(token)
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


async def test_a_second_os_process_revokes(
    make_manager: MakeManager, engine: AsyncEngine, user: User, database: str, tmp_path: Path
) -> None:
    """Another process revokes while this one has the token cached: refused next request.

    On SQLite both processes find the epoch file next to the database by default.
    """
    epoch = "" if database.startswith("sqlite") else str(tmp_path / "auth.epoch")
    extra = {"state_cache_epoch_file": epoch} if epoch else {}
    auth = make_manager(state_cache="local", **extra)
    token = await cached_token(auth, engine, user)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", REVOKER, database, token, epoch, cwd=ROOT, env=env
    )
    assert await proc.wait() == 0
    with pytest.raises(RevokedTokenError):
        await auth.verify_token(token)


# LISTEN/NOTIFY is PostgreSQL's: these tests are generated for the postgres database only.
# They read the cache's private state (ruff SLF001 is ignored for tests): whether its LISTEN
# connection is up has no public view, and a bad DSN is how a lost listener is made.
POSTGRES_ONLY = pytest.mark.parametrize("database", ["postgres"], indirect=True)


def _postgres_only(database: str) -> None:
    assert database.startswith("postgresql")


async def _listening(auth: AuthManager[User]) -> None:
    """Start the manager's listener (the first verification does) and wait for it."""
    cache = auth._state_cache
    assert cache is not None
    assert cache.mark() is None  # not listening yet: bypass
    for _ in range(500):
        if cache._listening:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the LISTEN connection did not come up")


@POSTGRES_ONLY
async def test_postgres_mode_across_two_managers(
    make_manager: MakeManager, engine: AsyncEngine, user: User, database: str
) -> None:
    """A revocation through one worker reaches the other's cache within the NOTIFY delay."""
    _postgres_only(database)
    reader, writer = make_manager(state_cache="postgres"), make_manager(state_cache="postgres")
    try:
        await _listening(reader)
        token = await cached_token(reader, engine, user)
        assert await writer.revoke_token(token)
        started = time.monotonic()
        while True:
            try:
                await reader.verify_token(token)
            except RevokedTokenError:
                break
            assert time.monotonic() - started < 1.0, "revocation not seen within 1 s"
            await asyncio.sleep(0.005)
        # Hand-written SQL plus invalidate_state_cache() reaches the other worker too.
        token = await cached_token(reader, engine, user)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE authmanager_tokens SET revoked_at = issued_at"))
        await writer.invalidate_state_cache()
        started = time.monotonic()
        while True:
            try:
                await reader.verify_token(token)
            except RevokedTokenError:
                break
            assert time.monotonic() - started < 1.0, "invalidation not seen within 1 s"
            await asyncio.sleep(0.005)
    finally:
        for auth in (reader, writer):
            await auth._state_cache.aclose()  # type: ignore[union-attr]


@POSTGRES_ONLY
async def test_postgres_mode_bypasses_without_a_listener(
    make_manager: MakeManager, engine: AsyncEngine, user: User, database: str
) -> None:
    """No LISTEN connection (unreachable, or lost): every request asks the database."""
    _postgres_only(database)
    auth = make_manager(state_cache="postgres")
    cache = auth._state_cache
    assert cache is not None
    try:
        await _listening(auth)
        token = await cached_token(auth, engine, user)
        async with engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'authmanager-state-cache'"
                )
            )
        for _ in range(500):
            if not cache._listening:
                break
            await asyncio.sleep(0.005)
        with counting(engine) as sent:
            await auth.verify_token(token)
        assert len(sent) == 1
        await _listening_again(auth)
        await cached_token(auth, engine, user)  # reconnected: caching again
        await cache.aclose()
        cache._dsn = "postgresql://nobody@127.0.0.1:1/none"
        for _ in range(3):
            with counting(engine) as sent:
                await auth.verify_token(token)
            assert len(sent) == 1
            await asyncio.sleep(0.05)
    finally:
        await cache.aclose()


async def _listening_again(auth: AuthManager[User]) -> None:
    cache = auth._state_cache
    assert cache is not None
    for _ in range(1000):
        if cache._listening:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the LISTEN connection did not come back")
