"""API key fixtures: the service and verifier wired as the manager will wire them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.settings import AuthSettings
from authmanager.apikeys import (
    ApiKeyService,
    ApiKeyStore,
    ApiKeyVerifier,
    KeyFormat,
    UsageRecorder,
)
from authmanager.apikeys.tables import api_keys
from authmanager.testing import CapturingHook, test_settings
from tests.app import Users


@dataclass
class Keys:
    """One manager's worth of API key parts, on the test database."""

    service: ApiKeyService
    verifier: ApiKeyVerifier
    recorder: UsageRecorder
    dispatcher: HookDispatcher
    settings: AuthSettings
    events: CapturingHook
    factory: async_sessionmaker[AsyncSession]

    async def drain(self) -> None:
        """Deliver every event emitted so far."""
        await self.dispatcher.drain()

    async def expire(self, key_id: str) -> None:
        """Move the key's expiry a second into the past (no sleeping in tests)."""
        async with self.factory() as db, db.begin():
            await db.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

    async def rows(self, **where: Any) -> list[Any]:
        """The rows of `authmanager_api_keys` matching *where*."""
        async with self.factory() as db:
            return list((await db.execute(select(api_keys).filter_by(**where))).all())


MakeKeys = Callable[..., Keys]


@pytest.fixture
async def make_keys(
    session_factory: async_sessionmaker[AsyncSession], events: CapturingHook
) -> AsyncIterator[MakeKeys]:
    """Build API key parts; keyword arguments override settings (recorder_* the recorder)."""
    built: list[Keys] = []

    def factory(
        *,
        recorder_interval: timedelta = timedelta(minutes=1),
        recorder_delay: float = 3600.0,
        recorder_max: int = 10_000,
        **overrides: Any,
    ) -> Keys:
        settings = test_settings(**overrides)
        database = Database(session_factory)
        store = ApiKeyStore()
        key_format = KeyFormat(settings.api_key_prefix)
        dispatcher = HookDispatcher([events], timeout=2.0)
        recorder = UsageRecorder(
            database=database,
            store=store,
            interval=recorder_interval,
            flush_delay=recorder_delay,
            max_pending=recorder_max,
        )
        keys = Keys(
            service=ApiKeyService(
                database=database,
                store=store,
                key_format=key_format,
                events=dispatcher,
                settings=settings,
            ),
            verifier=ApiKeyVerifier(
                database=database,
                store=store,
                key_format=key_format,
                recorder=recorder,
                events=dispatcher,
                users=Users(),
            ),
            recorder=recorder,
            dispatcher=dispatcher,
            settings=settings,
            events=events,
            factory=session_factory,
        )
        built.append(keys)
        return keys

    yield factory
    for keys in built:
        await keys.recorder.aclose()
        await keys.drain()


@pytest.fixture
def keys(make_keys: MakeKeys) -> Keys:
    """API key parts with the test settings."""
    return make_keys()


@dataclass
class Counter:
    """Statements sent to the database while counting."""

    statements: list[str] = field(default_factory=list)

    @property
    def verbs(self) -> list[str]:
        """The first word of each statement."""
        return [s.split(None, 1)[0].upper() for s in self.statements]


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Counter]:
    """Record every statement *engine* executes inside the block."""
    counter = Counter()
    sync = engine.sync_engine

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counter.statements.append(statement)

    event.listen(sync, "before_cursor_execute", on_execute)
    try:
        yield counter
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
