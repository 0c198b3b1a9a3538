"""Property-based run of the account routes' OpenAPI: no 5xx, every answer fits its schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from authmanager import AuthManager
from authmanager.testing import CapturingSender, test_settings
from tests.accounts.support import AccountUsers
from tests.http.test_schemathesis import MAX_EXAMPLES, _empty, _prepare
from tests.support.services import databases

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette.*")
ACCOUNT_PATHS = (
    "/register",
    "/verify-email",
    "/password",
    "/email",
    "/login-link",
)


@pytest.fixture(scope="module", params=databases())
def accounts_api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str | None,
) -> Iterator[tuple[Any, AuthManager[Any]]]:
    """The router with a sender, verification required, limits off; its schema.

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
    auth: AuthManager[Any] = AuthManager(
        settings=test_settings(
            account_rate_limit="", login_rate_limit="", require_verified_email=True
        ),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=AccountUsers(),
        sender=CapturingSender(),
    )
    app = FastAPI()
    app.include_router(auth.router, prefix="/auth")
    yield schemathesis.openapi.from_asgi("/openapi.json", app), auth
    if request.param == "postgres":
        asyncio.run(_empty(url))


def _explore(operation: Any, headers: dict[str, str]) -> None:
    """The bounded Hypothesis budget against one operation.

    Without the "schema-valid data is accepted" check: a login the schema allows (any
    string) may still not be an email address, and a password may be shorter than the
    manager's `password_min_length`; both are the documented 422.
    """

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    run()


def test_account_routes_answer_within_their_schema(
    accounts_api: tuple[Any, AuthManager[Any]],
) -> None:
    """Generated requests to every account route never get a 5xx, and fit the schema."""
    schema, auth = accounts_api
    token = asyncio.run(auth.create_access_token({"sub": "1"}))
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path.removeprefix("/auth").startswith(ACCOUNT_PATHS)
    ]
    assert len(operations) == 9
    for operation in operations:
        _explore(operation, {"Authorization": f"Bearer {token}"})
