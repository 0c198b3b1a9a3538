"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), factories, clients.

Set AUTHMANAGER_TEST_POSTGRES_URL (``.ci/services.sh`` prints it) to run every
database test on PostgreSQL as well, and AUTHMANAGER_TEST_REDIS_URL for the Redis
tests; without them those variants are not generated at all (so a run shows no skip
lines that could hide a real skip). With CI=true both are required.

Helpers live in `tests.support`; the names below are re-exported for the test modules
that import them from here.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from authmanager import AuthManager, metadata
from authmanager.testing import CapturingHook, test_settings
from tests.app import Base, User, Users, make_app
from tests.support.clock import T0, frozen
from tests.support.factories import PASSWORD, CreateUser, MakeManager
from tests.support.http import bearer, client_for, csrf_headers, login
from tests.support.services import (
    POSTGRES_ENV,
    REDIS_ENV,
    databases,
    missing_in_ci,
    postgres_admin_url,
)
from tests.support.services import (
    redis_url as configured_redis_url,
)

__all__ = [
    "PASSWORD",
    "POSTGRES_ENV",
    "REDIS_ENV",
    "T0",
    "CreateUser",
    "MakeManager",
    "bearer",
    "client_for",
    "csrf_headers",
    "frozen",
    "login",
]

#: Fixtures that reach a database: tests under tests/unit/ may use none of them.
DATABASE_FIXTURES = frozenset({"database", "postgres_url", "engine", "session_factory"})
UNIT = Path(__file__).parent / "unit"


def pytest_configure(config: pytest.Config) -> None:
    missing = missing_in_ci()
    if missing:
        raise pytest.UsageError(
            f"CI=true but {' and '.join(missing)} not set: CI runs every database and Redis test."
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the PostgreSQL and Redis tests; drop those whose service is not configured.

    A test is a PostgreSQL test when its `database` is "postgres" (parametrised, or
    indirectly), and a Redis test when it has the `redis` marker or asks for `redis_url`.
    Unit tests that reach for a database fixture are a usage error.
    """
    in_unit = [
        item.nodeid
        for item in items
        if item.path.is_relative_to(UNIT) and DATABASE_FIXTURES & set(_fixtures(item))
    ]
    if in_unit:
        raise pytest.UsageError(f"unit tests must not use a database fixture: {in_unit}")
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database") == "postgres":
            item.add_marker(pytest.mark.postgres)
        if "redis_url" in _fixtures(item):
            item.add_marker(pytest.mark.redis)
        unavailable = (item.get_closest_marker("postgres") and postgres_admin_url() is None) or (
            item.get_closest_marker("redis") and configured_redis_url() is None
        )
        (dropped if unavailable else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _fixtures(item: pytest.Item) -> list[str]:
    names: list[str] = getattr(item, "fixturenames", [])
    return names


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A PostgreSQL database of this test session's own (created, then dropped), or None."""
    admin = postgres_admin_url()
    if admin is None:
        yield None
        return
    import asyncpg

    name = f"am_test_{uuid.uuid4().hex[:12]}"
    base = make_url(admin)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)

    async def create() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(Base.metadata.create_all)
        await engine.dispose()

    asyncio.run(create())
    yield url
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=databases())
def database(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None) -> str:
    """The URL of an empty token store: each test runs once per configured database."""
    if request.param == "postgres":
        if postgres_url is None:  # collection drops these; reaching here is a bug
            pytest.fail(f"a PostgreSQL variant ran without {POSTGRES_ENV}")
        return postgres_url
    return f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"


@pytest.fixture
def redis_url() -> str:
    """The Redis server for the shared-storage tests (tests asking for it need Redis)."""
    url = configured_redis_url()
    if url is None:  # collection drops these; reaching here is a bug
        pytest.fail(f"a Redis test ran without {REDIS_ENV}")
    return url


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database, with empty tables."""
    eng = (
        create_async_engine(database, pool_size=20, max_overflow=10)
        if database.startswith("postgresql")
        else create_async_engine(database)
    )
    async with eng.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(Base.metadata.create_all)
    yield eng
    if eng.dialect.name == "postgresql":
        async with eng.begin() as conn:
            for table in [*reversed(metadata.sorted_tables), *Base.metadata.sorted_tables]:
                await conn.execute(delete(table))
    await eng.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No JWT_* or AUTH_* variable of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("JWT_", "AUTH_")):
            monkeypatch.delenv(name)


@pytest.fixture
def events() -> CapturingHook:
    """A hook that records events; managers from `make_manager` report to it."""
    return CapturingHook()


@pytest.fixture
async def make_manager(
    session_factory: async_sessionmaker[AsyncSession], events: CapturingHook
) -> AsyncIterator[MakeManager]:
    """Build managers on the test database; keyword arguments override settings.

    Each manager is closed after the test (`aclose`: its Redis connections, listener and
    pending events), so nothing it opened outlives the test.
    """
    built: list[AuthManager[User]] = []

    def factory(*, hooks: list[Any] | None = None, **overrides: Any) -> AuthManager[User]:
        manager = AuthManager(
            settings=test_settings(**overrides),
            session_factory=session_factory,
            user_loader=Users(),
            hooks=[events] if hooks is None else hooks,
        )
        built.append(manager)
        return manager

    yield factory
    for manager in built:
        await asyncio.wait_for(manager.aclose(), timeout=10)


@pytest.fixture
def manager(make_manager: MakeManager) -> AuthManager[User]:
    """A manager with test settings (cookie transport, rate limits on)."""
    return make_manager()


@pytest.fixture
def create_user(
    session_factory: async_sessionmaker[AsyncSession], manager: AuthManager[User]
) -> CreateUser:
    """Insert a user (password hashed with the test cost) and return it."""

    async def factory(
        email: str = "alice@example.com",
        password: str = PASSWORD,
        *,
        is_active: bool = True,
        role: str = "user",
        hashed_password: str | None = None,
    ) -> User:
        hashed = hashed_password or await manager.hash_password_async(password)
        async with session_factory() as session, session.begin():
            user = User(email=email, hashed_password=hashed, is_active=is_active, role=role)
            session.add(user)
        return user

    return factory


@pytest.fixture
async def user(create_user: CreateUser) -> User:
    return await create_user()


@pytest.fixture
async def client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTPS client on the test app of `manager`."""
    async with client_for(make_app(manager)) as c:
        yield c
