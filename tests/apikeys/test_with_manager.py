"""API keys beside the real manager: one set of tables, one deactivation transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from authmanager import AuthManager
from authmanager.exceptions import RevokedTokenError
from authmanager.testing import test_settings
from tests.apikeys.conftest import Keys
from tests.app import User, Users


async def test_create_tables_creates_the_api_key_table(tmp_path: Path) -> None:
    """`authmanager.metadata` (hence create_tables and Alembic) holds authmanager_api_keys."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        auth: AuthManager[User] = AuthManager(
            settings=test_settings(),
            session_factory=async_sessionmaker(engine, expire_on_commit=False),
            user_loader=Users(),
        )
        await auth.create_tables()
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            indexes = await conn.run_sync(
                lambda c: {
                    i["name"]: i["unique"] for i in inspect(c).get_indexes("authmanager_api_keys")
                }
            )
        assert "authmanager_api_keys" in names
        assert indexes == {
            "ix_authmanager_api_keys_hash": True,
            "ix_authmanager_api_keys_user": False,
        }
    finally:
        await engine.dispose()


async def test_deactivation_ends_sessions_and_keys_in_one_transaction(
    manager: AuthManager[User],
    keys: Keys,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """What deactivate_user will do: revoke-all and revoke_user_keys on the caller's session."""
    uid = str(user.id)
    pair = await manager.create_token_pair({"sub": uid})
    new = await keys.service.create_api_key(uid, name="k")
    async with session_factory() as db, db.begin():
        tokens = await manager.revoke_all_user_tokens(uid, session=db)
        revoked = await keys.service.revoke_user_keys(uid, reason="deactivated", session=db)
    assert tokens == 2
    assert revoked == 1
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)
    with pytest.raises(RevokedTokenError):
        await keys.verifier.verify(new.key)


async def test_a_rolled_back_deactivation_leaves_the_keys_working(
    keys: Keys, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Revoking inside a transaction that rolls back changes nothing."""
    new = await keys.service.create_api_key("u1", name="k")
    async with session_factory() as db:
        outer = db.begin()
        await outer.start()
        assert await keys.service.revoke_user_keys("u1", session=db) == 1
        await outer.rollback()
    assert (await keys.verifier.verify(new.key)).key_id == new.id
