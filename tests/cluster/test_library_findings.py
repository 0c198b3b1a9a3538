"""Two library defects the cluster harness found, now fixed: their specifications.

A refresh whose answer was lost is retried with the same token and continues the
session; a pooled connection the server closed is replaced on the next read, with or
without `pool_pre_ping`.
"""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager
from authmanager.testing import test_settings
from tests.app import User, Users
from tests.conftest import MakeManager
from tests.support.factories import claims

POSTGRES_ONLY = pytest.mark.parametrize("database", ["postgres"], indirect=True)


async def test_retry_of_a_refresh_whose_answer_was_lost_continues_the_session(
    make_manager: MakeManager, user: User
) -> None:
    """The client retries the same refresh token after the first answer never arrived."""
    auth = make_manager()
    pair = await auth.create_token_pair(claims(user))
    await auth.refresh(pair.refresh_token)  # committed; the answer is lost on the way
    retried = await auth.refresh(pair.refresh_token)  # the client's retry, within the grace
    assert (await auth.verify_token(retried.access_token)).sid == pair.session_id


async def _terminate(url: str, pid: int) -> bool:
    """pg_terminate_backend one server process: what a restart does to each connection."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        done: bool = await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()
    return done


async def _verify_after_kill(database: str, user: User, *, pre_ping: bool) -> None:
    # One pooled connection, so the one the server closes is the one the next request draws.
    engine = create_async_engine(database, pool_size=1, max_overflow=0, pool_pre_ping=pre_ping)
    auth: AuthManager[User] = AuthManager(
        settings=test_settings(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
    )
    try:
        pair = await auth.create_token_pair(claims(user))
        await auth.verify_token(pair.access_token)  # the pool now holds the connection
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert await _terminate(database, pid)
        await auth.verify_token(pair.access_token)  # the database is up again
    finally:
        await engine.dispose()


@POSTGRES_ONLY
async def test_pooled_connection_closed_by_the_server_is_replaced(
    database: str, user: User
) -> None:
    """After the server closed every connection, the next verification still succeeds."""
    await _verify_after_kill(database, user, pre_ping=False)


@POSTGRES_ONLY
async def test_pool_pre_ping_replaces_a_connection_closed_by_the_server(
    database: str, user: User
) -> None:
    """With `pool_pre_ping=True` on the application's engine, the same holds."""
    await _verify_after_kill(database, user, pre_ping=True)


@POSTGRES_ONLY
async def test_a_closed_pooled_connection_is_reported_as_invalidated(database: str) -> None:
    """What a fix can rely on: SQLAlchemy flags the error, and the next checkout reconnects.

    So a single-statement read that fails with `connection_invalidated` can be retried
    once on a fresh connection, and a transaction that failed on its first statement
    (nothing sent yet) can be begun again.
    """
    engine = create_async_engine(database, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert await _terminate(database, pid)
        with pytest.raises(DBAPIError) as failed:
            async with engine.connect() as conn:
                await conn.scalar(text("SELECT 1"))
        assert failed.value.connection_invalidated
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
