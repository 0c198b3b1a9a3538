"""The token tables as the metadata declares them; `create_tables` without an engine."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

import authmanager
from authmanager import AuthManager
from authmanager.testing import test_settings
from tests.app import User, Users
from tests.support.rows import TABLES


async def test_create_tables_needs_an_engine() -> None:
    """An unbound factory and no engine argument: TypeError naming the fix."""
    auth = AuthManager(
        settings=test_settings(), session_factory=async_sessionmaker(), user_loader=Users()
    )
    with pytest.raises(TypeError, match="engine="):
        await auth.create_tables()


def test_metadata_has_the_tables_and_hot_path_indexes() -> None:
    """authmanager.metadata: three tables; jti primary key; by user, session, expiry."""
    md = authmanager.metadata
    assert set(md.tables) >= TABLES
    token_table = md.tables["authmanager_tokens"]
    assert [c.name for c in token_table.primary_key.columns] == ["jti"]
    indexed = {tuple(c.name for c in ix.columns) for ix in token_table.indexes}
    assert indexed >= {("user_id",), ("session_id",), ("expires_at",)}
    session_table = md.tables["authmanager_sessions"]
    assert [c.name for c in session_table.primary_key.columns] == ["id"]
    assert {tuple(c.name for c in ix.columns) for ix in session_table.indexes} >= {
        ("user_id",),
        ("expires_at",),
    }
    state = md.tables["authmanager_user_state"]
    assert [c.name for c in state.primary_key.columns] == ["user_id"]


def test_manager_exposes_the_same_metadata(manager: AuthManager[User]) -> None:
    """manager.metadata is authmanager.metadata (for Alembic)."""
    assert manager.metadata is authmanager.metadata
