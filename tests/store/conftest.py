"""Fixtures of the store tests: managers with the state cache on, on a shared epoch file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authmanager import AuthManager
from tests.app import User
from tests.support.factories import MakeManager


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
