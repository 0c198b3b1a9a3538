"""The state cache across processes and hosts, with real OS processes and PostgreSQL NOTIFY.

A second OS process stands for another worker of the host: it shares the slot file
(the default one) and revokes. On PostgreSQL, managers with slot files of their own
stand for other hosts: they learn of revocations by LISTEN/NOTIFY only.
"""

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
from authmanager._core.slots import SlotTable
from tests.app import User
from tests.conftest import MakeManager
from tests.support.factories import claims
from tests.support.spies import counting
from tests.support.statecache import cached_token, refused, served_from_cache

ROOT = Path(__file__).resolve().parents[2]

#: The other worker: its own manager (default settings) on the same database.
#: With "die", it is killed between its commit and the release of the cache's slots.
REVOKER = """
import asyncio, os, signal, sys
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from authmanager import AuthManager
from authmanager._core.statecache import StateCache
from authmanager.testing import test_settings
from tests.app import Users

async def main(url, what, value, die):
    if die == "die":
        StateCache.end = lambda self, slots: os.kill(os.getpid(), signal.SIGKILL)
    engine = create_async_engine(url)
    auth = AuthManager(
        settings=test_settings(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
    )
    if what == "token":
        assert await auth.revoke_token(value)
    else:
        assert await auth.revoke_all_user_tokens(value)
    await engine.dispose()

asyncio.run(main(*sys.argv[1:5]))
"""


async def _run_revoker(database: str, what: str, value: str, die: bool) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        REVOKER,
        database,
        what,
        value,
        "die" if die else "live",
        cwd=ROOT,
        env=env,
    )
    return await proc.wait()


async def test_a_second_os_process_revokes(
    manager: AuthManager[User], engine: AsyncEngine, user: User, database: str
) -> None:
    """Another worker process revokes while this one has the token cached: refused next."""
    token = await cached_token(manager, engine, user)
    assert await _run_revoker(database, "token", token, die=False) == 0
    await refused(manager, token)


async def test_a_writer_killed_after_its_commit_leaves_the_cache_stepped_aside(
    manager: AuthManager[User], engine: AsyncEngine, user: User, database: str
) -> None:
    """SIGKILL between the commit and the slots' release: refused, and never served stale.

    The dead writer's slots stay pending, so states of that user are read from the
    database (and not kept) until the host's processes restart.
    """
    token = await cached_token(manager, engine, user)
    assert await _run_revoker(database, "user", str(user.id), die=True) == -9
    await refused(manager, token)
    fresh = (await manager.create_token_pair(claims(user))).access_token
    for _ in range(3):
        with counting(engine) as sent:
            await manager.verify_token(fresh)
        assert sent.sent == ["SELECT"]  # the user's slot is pending: bypassed


def test_the_first_process_of_a_host_clears_a_dead_writers_marks(tmp_path: Path) -> None:
    """A slot left pending by a dead writer is cleared when no other process is running."""
    path = tmp_path / "slots"
    first = SlotTable(path)
    slot = first.index(("u", "42"))
    before = first.read(slot)
    first.begin({slot})
    assert first.pending(first.read(slot))
    second = SlotTable(path)  # `first` still runs: nothing is cleared
    assert second.pending(second.read(slot))
    first.close()
    second.close()
    third = SlotTable(path)  # alone on the host
    assert not third.pending(third.read(slot))
    assert third.read(slot) != before
    third.close()


# LISTEN/NOTIFY is PostgreSQL's: these tests are generated for the postgres database only.
POSTGRES_ONLY = pytest.mark.parametrize("database", ["postgres"], indirect=True)


def _other_host(make_manager: MakeManager, tmp_path: Path, name: str) -> AuthManager[User]:
    """A manager with slots of its own: it shares nothing with this host but the database."""
    return make_manager(state_cache="postgres", state_cache_file=tmp_path / f"{name}.slots")


async def _until_refused(auth: AuthManager[User], token: str, within: float = 1.0) -> float:
    started = time.monotonic()
    while True:
        try:
            await auth.verify_token(token)
        except RevokedTokenError:
            return time.monotonic() - started
        assert time.monotonic() - started < within, f"not refused within {within} s"
        await asyncio.sleep(0.002)


@POSTGRES_ONLY
async def test_postgres_mode_across_two_hosts(
    make_manager: MakeManager, engine: AsyncEngine, user: User, tmp_path: Path
) -> None:
    """A revocation on host A reaches host B's cache within the NOTIFY delay."""
    reader, writer = (
        _other_host(make_manager, tmp_path, "b"),
        _other_host(make_manager, tmp_path, "a"),
    )
    try:
        token = await cached_token(reader, engine, user)
        other = await cached_token(reader, engine, user)
        await served_from_cache(writer, engine, other)  # A listens too
        assert await writer.revoke_token(token)
        await _until_refused(reader, token)
        with counting(engine) as sent:
            await reader.verify_token(other)  # only what the revocation named was dropped
        assert sent.sent == []
        # Hand-written SQL plus invalidate_state_cache() reaches the other host too.
        token = await cached_token(reader, engine, user)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE authmanager_tokens SET revoked_at = issued_at"))
        await writer.invalidate_state_cache()
        await _until_refused(reader, token)
    finally:
        for auth in (reader, writer):
            await auth.aclose()


@POSTGRES_ONLY
async def test_postgres_mode_bypasses_without_a_listener(
    make_manager: MakeManager, engine: AsyncEngine, user: User, tmp_path: Path
) -> None:
    """A lost LISTEN connection: every request asks the database until it is back."""
    auth = _other_host(make_manager, tmp_path, "b")
    try:
        token = await cached_token(auth, engine, user)
        async with engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'authmanager-listener'"
                )
            )
        bypassed = False
        for _ in range(500):
            with counting(engine) as sent:
                await auth.verify_token(token)
            if sent.sent:
                bypassed = True
                break
            await asyncio.sleep(0.005)
        assert bypassed, "the lost listener was not noticed"
        await served_from_cache(auth, engine, token)  # reconnected: caching again
    finally:
        await auth.aclose()
