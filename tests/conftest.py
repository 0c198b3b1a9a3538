"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), factories, clients.

Set AUTHMANAGER_TEST_POSTGRES_URL (``.ci/services.sh`` prints it) to run every
database test on PostgreSQL as well; with CI=true it is required.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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

POSTGRES_ENV = "AUTHMANAGER_TEST_POSTGRES_URL"
REDIS_ENV = "AUTHMANAGER_TEST_REDIS_URL"
PASSWORD = "correct horse battery staple"


def _postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url and os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true but {POSTGRES_ENV} is not set: PostgreSQL is required.")
    return url or None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A PostgreSQL database of this test session's own (created, then dropped), or None."""
    admin = _postgres_admin_url()
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


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None) -> str:
    """The URL of an empty token store: each test runs once per database."""
    if request.param == "postgres":
        if postgres_url is None:
            pytest.skip(f"PostgreSQL not configured: set {POSTGRES_ENV}")
        return postgres_url
    return f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"


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


MakeManager = Callable[..., AuthManager[User]]


@pytest.fixture
def make_manager(
    session_factory: async_sessionmaker[AsyncSession], events: CapturingHook
) -> MakeManager:
    """Build a manager on the test database; keyword arguments override settings."""

    def factory(*, hooks: list[Any] | None = None, **overrides: Any) -> AuthManager[User]:
        return AuthManager(
            settings=test_settings(**overrides),
            session_factory=session_factory,
            user_loader=Users(),
            hooks=[events] if hooks is None else hooks,
        )

    return factory


@pytest.fixture
def manager(make_manager: MakeManager) -> AuthManager[User]:
    """A manager with test settings (cookie transport, rate limits on)."""
    return make_manager()


CreateUser = Callable[..., Awaitable[User]]


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


def client_for(app: Any) -> httpx.AsyncClient:
    """An HTTPS client on *app* (https keeps Secure cookies)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@pytest.fixture
async def client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTPS client on the test app of `manager`."""
    async with client_for(make_app(manager)) as c:
        yield c


async def login(
    client: httpx.AsyncClient,
    email: str = "alice@example.com",
    password: str = PASSWORD,
    **kwargs: Any,
) -> httpx.Response:
    """POST the password form to /auth/login and return the response."""
    return await client.post(
        "/auth/login", data={"username": email, "password": password}, **kwargs
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """The double-submit header for a cookie refresh."""
    return {"X-CSRF-Token": client.cookies.get("csrf_token") or ""}
