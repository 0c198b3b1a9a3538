"""A database that cannot be reached: the flows raise TokenStoreUnavailableError, send nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager._core.database import Database
from authmanager.accounts._service import AccountService
from authmanager.accounts._tokens import ActionTokens
from authmanager.exceptions import TokenStoreUnavailableError
from tests.accounts.support import Accounts
from tests.conftest import PASSWORD


def broken(accounts: Accounts, tmp_path: Path) -> tuple[AccountService[object], ActionTokens]:
    """The same service, on a database file that cannot be opened."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    database = Database(async_sessionmaker(engine, expire_on_commit=False))
    tokens = ActionTokens(database=database)
    service: AccountService[object] = AccountService(
        settings=accounts.manager.settings,
        database=database,
        users=accounts.users,
        hasher=accounts.hasher,
        tokens=tokens,
        outbox=accounts.outbox,
        limiter=accounts.limiter,
        events=accounts.dispatcher,
        sessions=accounts.sessions,
        revoker=accounts.sessions,
    )
    return service, tokens


async def test_requests_fail_closed_and_send_nothing(accounts: Accounts, tmp_path: Path) -> None:
    """Each flow raises TokenStoreUnavailableError; no message goes out."""
    service, tokens = broken(accounts, tmp_path)
    with pytest.raises(TokenStoreUnavailableError):
        await service.request_password_reset("alice@example.com")
    with pytest.raises(TokenStoreUnavailableError):
        await service.request_login_link("alice@example.com")
    with pytest.raises(TokenStoreUnavailableError):
        await service.register("new@example.com", PASSWORD)
    with pytest.raises(TokenStoreUnavailableError):
        await service.verify_email("A" * 43)
    with pytest.raises(TokenStoreUnavailableError):
        await service.login_with_link("A" * 43)
    with pytest.raises(TokenStoreUnavailableError):
        await tokens.create("7", "verify_email", expires_in=timedelta(hours=1))
    await accounts.settle()
    assert accounts.captured.messages == []
