"""last_used_at: written behind, at most once a minute per key, tolerant and bounded."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager.apikeys import ApiKeyStore, UsageRecorder
from tests.apikeys.conftest import Keys, MakeKeys, counting


async def test_use_is_written_on_flush_not_on_the_request(keys: Keys, engine: AsyncEngine) -> None:
    """verify only notes the use; flush writes last_used_at in one UPDATE."""
    new = await keys.service.create_api_key("u1", name="k")
    before = utcnow()
    with counting(engine) as counter:
        await keys.verifier.verify(new.key)
    assert counter.verbs == ["SELECT"]
    assert keys.recorder.pending == 1
    (row,) = await keys.rows(id=new.id)
    assert row.last_used_at is None
    assert await keys.recorder.flush() == 1
    (listed,) = await keys.service.list_api_keys("u1")
    assert listed.last_used_at is not None
    assert before <= listed.last_used_at <= utcnow()


async def test_a_key_is_noted_at_most_once_a_minute(keys: Keys) -> None:
    """Many uses within the interval give one pending write, and none after the flush."""
    new = await keys.service.create_api_key("u1", name="k")
    for _ in range(20):
        await keys.verifier.verify(new.key)
    assert keys.recorder.pending == 1
    await keys.recorder.flush()
    await keys.verifier.verify(new.key)
    assert keys.recorder.pending == 0


async def test_background_flush_runs_after_the_delay(make_keys: MakeKeys) -> None:
    """Without any call to flush, the use reaches the database shortly after."""
    keys = make_keys(recorder_delay=0.05)
    new = await keys.service.create_api_key("u1", name="k")
    await keys.verifier.verify(new.key)
    for _ in range(100):
        await asyncio.sleep(0.02)
        (row,) = await keys.rows(id=new.id)
        if row.last_used_at is not None:
            break
    assert row.last_used_at is not None
    assert keys.recorder.pending == 0


async def test_the_statement_writes_a_key_at_most_once_per_interval(keys: Keys) -> None:
    """Across processes the UPDATE itself skips a key written less than a minute ago."""
    new = await keys.service.create_api_key("u1", name="k")
    store, database = ApiKeyStore(), Database(keys.factory)
    t0 = utcnow()
    minute = timedelta(minutes=1)

    async def touch(at: timedelta) -> None:
        async with database.transaction() as db:
            await store.touch(db, [(new.id, t0 + at)], interval=minute)

    async def last_used() -> object:
        (row,) = await keys.rows(id=new.id)
        return row.last_used_at

    await touch(timedelta(0))
    first = await last_used()
    await touch(timedelta(seconds=30))  # another process, 30 s later: skipped
    assert await last_used() == first
    await touch(timedelta(seconds=-10))  # an older time never overwrites a newer one
    assert await last_used() == first
    await touch(timedelta(seconds=61))
    assert await last_used() != first


async def test_two_recorders_on_one_database_write_once(make_keys: MakeKeys) -> None:
    """Two workers each noting a use within the minute: the second flush changes nothing."""
    a, b = make_keys(), make_keys()
    new = await a.service.create_api_key("u1", name="k")
    await a.verifier.verify(new.key)
    await a.recorder.flush()
    (row,) = await a.rows(id=new.id)
    await b.verifier.verify(new.key)
    await b.recorder.flush()
    (again,) = await a.rows(id=new.id)
    assert again.last_used_at == row.last_used_at


async def test_failed_flush_is_logged_and_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that cannot answer costs the pending uses, never an exception."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    recorder = UsageRecorder(
        database=Database(async_sessionmaker(engine)), store=ApiKeyStore(), flush_delay=3600
    )
    try:
        recorder.note("key-1", utcnow())
        assert recorder.pending == 1
        with caplog.at_level(logging.WARNING, logger="authmanager.apikeys"):
            assert await recorder.flush() == 0
        assert recorder.pending == 0
        assert "could not record the last use of 1 API keys" in caplog.text
        recorder.note("key-1", utcnow())  # the failed key is noted again at its next use
        assert recorder.pending == 1
        await recorder.aclose()  # fails again, quietly
    finally:
        await engine.dispose()


async def test_pending_uses_are_bounded(keys: Keys) -> None:
    """Past max_pending, new keys' uses are dropped and counted; the buffer never grows."""
    store, database = ApiKeyStore(), Database(keys.factory)
    recorder = UsageRecorder(database=database, store=store, max_pending=2, flush_delay=3600)
    now = utcnow()
    for key_id in ("k1", "k2", "k3", "k4"):
        recorder.note(key_id, now)
    assert recorder.pending == 2
    assert recorder.dropped == 2
    recorder.note("k1", now)  # already pending: kept, not dropped
    assert recorder.dropped == 2
    await recorder.aclose()


async def test_remembered_keys_are_bounded_least_recent_first(keys: Keys) -> None:
    """The per-key memory holds max_pending keys; a forgotten key is noted again."""
    recorder = UsageRecorder(
        database=Database(keys.factory), store=ApiKeyStore(), max_pending=2, flush_delay=3600
    )
    now = utcnow()
    recorder.note("k1", now)
    recorder.note("k2", now)
    await recorder.flush()
    recorder.note("k1", now)  # remembered: within the minute
    assert recorder.pending == 0
    recorder.note("k3", now)
    recorder.note("k4", now)  # k1 and k2 are forgotten now
    await recorder.flush()
    recorder.note("k2", now)
    assert recorder.pending == 1
    await recorder.aclose()


async def test_aclose_writes_what_is_pending(keys: Keys) -> None:
    """Shutdown cancels the scheduled flush and writes the pending uses at once."""
    new = await keys.service.create_api_key("u1", name="k")
    await keys.verifier.verify(new.key)
    await keys.recorder.aclose()
    assert keys.recorder.pending == 0
    (row,) = await keys.rows(id=new.id)
    assert row.last_used_at is not None


async def test_note_without_an_event_loop_waits_for_the_next_flush(keys: Keys) -> None:
    """From a thread with no loop, note() keeps the use without scheduling anything."""
    new = await keys.service.create_api_key("u1", name="k")
    await asyncio.to_thread(keys.recorder.note, new.id, utcnow())
    assert keys.recorder.pending == 1
    assert await keys.recorder.flush() == 1


async def test_interval_setting_of_the_recorder(make_keys: MakeKeys) -> None:
    """With a shorter interval a key is noted again once it has passed."""
    keys = make_keys(recorder_interval=timedelta(milliseconds=100))
    new = await keys.service.create_api_key("u1", name="k")
    await keys.verifier.verify(new.key)
    await keys.recorder.flush()
    await asyncio.sleep(0.15)
    await keys.verifier.verify(new.key)
    assert keys.recorder.pending == 1
