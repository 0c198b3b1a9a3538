"""Fixtures that load the documentation's examples as a reader would run them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.docs import (
    Load,
    clean_postgres,
    close_examples,
    import_example,
    reader_environment,
)


@pytest.fixture
async def load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database: str
) -> AsyncIterator[Load]:
    """Import an example from docs/examples on the test's database (SQLite, PostgreSQL)."""
    reader_environment(monkeypatch, tmp_path, database)
    loaded: list[ModuleType] = []

    def loader(name: str) -> ModuleType:
        loaded.append(import_example(name))
        return loaded[-1]

    yield loader
    await close_examples(loaded)
    if database.startswith("postgresql"):
        await clean_postgres(database)


@pytest.fixture
async def load_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Load]:
    """Import an example that is SQLite by design (the quick start), in a temp directory."""
    reader_environment(monkeypatch, tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    loaded: list[ModuleType] = []

    def loader(name: str) -> ModuleType:
        loaded.append(import_example(name))
        return loaded[-1]

    yield loader
    await close_examples(loaded)
