"""Fixtures of the state-cache tests: managers with the cache on, a statement counter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import AuthManager
from tests.app import User
from tests.conftest import MakeManager


class Statements:
    """The SQL statements an engine sent while counting."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __len__(self) -> int:
        return len(self.sent)


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Statements]:
    """Count every statement *engine* sends inside the block."""
    seen = Statements()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.sent.append(statement.split(None, 1)[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


@pytest.fixture
def epoch_file(tmp_path: Path) -> Path:
    """An epoch file path of the test's own (shared by its 'worker processes')."""
    return tmp_path / "auth.epoch"


@pytest.fixture
def cached(make_manager: MakeManager, epoch_file: Path) -> MakeManager:
    """Build a manager with `state_cache="local"` on the shared epoch file."""

    def factory(**overrides: Any) -> AuthManager[User]:
        values: dict[str, Any] = {"state_cache": "local", "state_cache_epoch_file": epoch_file}
        values.update(overrides)
        return make_manager(**values)

    return factory
