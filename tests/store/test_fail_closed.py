"""Fail closed: with the database unreachable, every method raises TokenStoreUnavailableError."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, TokenPair, TokenStoreUnavailableError
from authmanager.exceptions import Reason
from authmanager.testing import CapturingHook, test_settings
from tests.app import User, Users
from tests.conftest import PASSWORD

UNREACHABLE = {
    "postgres-closed-port": "postgresql+asyncpg://u:p@127.0.0.1:1/x",
    "sqlite-missing-dir": "sqlite+aiosqlite:///{tmp}/no/such/dir/auth.db",
    "sqlite-no-tables": "sqlite+aiosqlite:///{tmp}/empty.db",
}


@pytest.fixture
async def issued(tmp_path: Path) -> AsyncIterator[TokenPair]:
    """A valid pair from a working manager with the same settings as the broken one."""
    from authmanager import metadata

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'good.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    good = AuthManager(
        settings=test_settings(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
    )
    yield await good.create_token_pair({"sub": "1", "role": "x"})
    await engine.dispose()


@pytest.fixture(params=list(UNREACHABLE))
async def broken(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[AuthManager[User], CapturingHook]]:
    """A manager whose database cannot answer."""
    before = set(threading.enumerate())
    url = UNREACHABLE[request.param].format(tmp=tmp_path)
    engine = create_async_engine(url)
    hook = CapturingHook()
    auth: AuthManager[User] = AuthManager(
        settings=test_settings(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
        hooks=[hook],
    )
    yield auth, hook
    await engine.dispose()
    # aiosqlite stops a connection that failed to open by posting to the loop from its
    # worker thread; let those threads finish while the loop is still open.
    for thread in set(threading.enumerate()) - before:
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, 5)


Call = Callable[[AuthManager[User], TokenPair], Awaitable[Any]]

CALLS: dict[str, Call] = {
    "verify_token": lambda a, p: a.verify_token(p.access_token),
    "verify_token_refresh": lambda a, p: a.verify_token(p.refresh_token, token_type="refresh"),
    "refresh": lambda a, p: a.refresh(p.refresh_token),
    "refresh_access_token": lambda a, p: a.refresh_access_token(p.refresh_token),
    "authenticate": lambda a, p: a.authenticate("alice@example.com", PASSWORD),
    "create_token_pair": lambda a, p: a.create_token_pair({"sub": "1"}),
    "create_access_token": lambda a, p: a.create_access_token({"sub": "1"}),
    "revoke_token_access": lambda a, p: a.revoke_token(p.access_token),
    "revoke_token_refresh": lambda a, p: a.revoke_token(p.refresh_token),
    "revoke_all_user_tokens": lambda a, p: a.revoke_all_user_tokens("1"),
    "list_sessions": lambda a, p: a.list_sessions("1"),
    "revoke_session": lambda a, p: a.revoke_session("1", "0" * 32),
    "purge_expired": lambda a, p: a.purge_expired(),
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_every_method_fails_closed(
    broken: tuple[AuthManager[User], CapturingHook], issued: TokenPair, name: str
) -> None:
    """The store is down: TokenStoreUnavailableError, never a pass or a foreign exception."""
    auth, hook = broken
    with pytest.raises(TokenStoreUnavailableError) as info:
        await CALLS[name](auth, issued)
    assert type(info.value) is TokenStoreUnavailableError
    assert info.value.reason == Reason.STORE_UNAVAILABLE
    assert "temporarily unavailable" in str(info.value)
    await auth.drain_events()
    assert not {"login.succeeded", "token.issued", "token.refreshed"} & set(hook.names())


async def test_create_tables_fails_closed_on_an_unreachable_database(
    broken: tuple[AuthManager[User], CapturingHook], request: pytest.FixtureRequest
) -> None:
    """create_tables on an unreachable server or missing directory raises the same error."""
    auth, _ = broken
    if request.node.callspec.params["broken"] == "sqlite-no-tables":
        await auth.create_tables()  # reachable: it simply creates them
        return
    with pytest.raises(TokenStoreUnavailableError):
        await auth.create_tables()
