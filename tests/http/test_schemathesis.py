"""Property-based run of the router's OpenAPI document: no 5xx, every answer fits its schema.

Schemathesis drives the ASGI app synchronously (each request on a short-lived event
loop), so the app here has an engine of its own without a pool, created per database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from authmanager import AuthManager, metadata
from authmanager.testing import test_settings
from tests.app import Base, User, Users
from tests.conftest import PASSWORD
from tests.support.keys import private_pem
from tests.support.services import databases

MAX_EXAMPLES = 25
# Schemathesis calls the ASGI app through Starlette's TestClient, which warns about its
# httpx backend; that warning is about the test tool, not about authmanager.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette.*")


def _prepare(url: str) -> None:
    async def create() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(Base.metadata.create_all)
        async with async_sessionmaker(engine)() as db, db.begin():
            auth = AuthManager(
                settings=test_settings(),
                session_factory=async_sessionmaker(engine),
                user_loader=Users(),
            )
            hashed = await auth.hash_password_async(PASSWORD)
            if not await db.get(User, 1):
                db.add(User(id=1, email="alice@example.com", hashed_password=hashed))
        await engine.dispose()

    asyncio.run(create())


@pytest.fixture(scope="module", params=databases())
def api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str | None,
) -> Iterator[tuple[Any, str]]:
    """The router alone (RS256, so the JWKS route exists), its schema, and a valid bearer.

    On PostgreSQL (one database for the whole session) its rows are deleted afterwards,
    as the `engine` fixture does, so the next module's tests start from empty tables.
    """
    if request.param == "postgres":
        assert postgres_url is not None  # generated only when PostgreSQL is configured
        url = postgres_url
    else:
        url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('st')) / 'auth.db'}"
    _prepare(url)
    engine = create_async_engine(url, poolclass=NullPool)
    auth = AuthManager(
        settings=test_settings(
            algorithm="RS256",
            private_key=private_pem("RS256"),
            refresh_token_transport="both",
            login_rate_limit="",
            refresh_rate_limit="",
        ),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
    )
    app = FastAPI()
    app.include_router(auth.router, prefix="/auth")
    pair = asyncio.run(auth.create_token_pair({"sub": "1"}))
    yield schemathesis.openapi.from_asgi("/openapi.json", app), pair.access_token
    if request.param == "postgres":
        asyncio.run(_empty(url))


async def _empty(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        for table in [*reversed(metadata.sorted_tables), *Base.metadata.sorted_tables]:
            await conn.execute(delete(table))
    await engine.dispose()


def _explore(operation: Any, headers: dict[str, str]) -> None:
    """Run the bounded Hypothesis budget against one operation."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers)

    run()


def test_router_answers_within_its_schema(api: tuple[Any, str]) -> None:
    """Generated requests to every operation never get a 5xx, and each answer fits its schema."""
    schema, token = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:
        # Ending the session would turn every later case into a 401: those go anonymous.
        anonymous = operation.path.endswith(("/logout", "/logout-all"))
        _explore(operation, {} if anonymous else {"Authorization": f"Bearer {token}"})
