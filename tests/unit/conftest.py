"""Fixtures of the unit tests: managers whose session factory refuses to connect.

The unit layer needs no database. Collection refuses a unit test that asks for a
database fixture (tests/conftest.py), and the managers here fail loudly if anything
they are asked to do reaches for a connection.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from authmanager import AuthManager
from authmanager.testing import CapturingHook, test_settings
from tests.app import User, Users
from tests.support.factories import MakeManager


async def _refuse() -> NoReturn:
    raise AssertionError("a unit test reached for a database connection")


@pytest.fixture
def no_database() -> async_sessionmaker[AsyncSession]:
    """A session factory on an engine that never connects."""
    return async_sessionmaker(create_async_engine("sqlite+aiosqlite://", async_creator=_refuse))


@pytest.fixture
def make_manager(
    no_database: async_sessionmaker[AsyncSession], events: CapturingHook
) -> MakeManager:
    """Build a manager without a database; keyword arguments override settings."""

    def factory(*, hooks: list[Any] | None = None, **overrides: Any) -> AuthManager[User]:
        return AuthManager(
            settings=test_settings(**overrides),
            session_factory=no_database,
            user_loader=Users(),
            hooks=[events] if hooks is None else hooks,
        )

    return factory


@pytest.fixture
def manager(make_manager: MakeManager) -> AuthManager[User]:
    """A manager with test settings and no database."""
    return make_manager()
