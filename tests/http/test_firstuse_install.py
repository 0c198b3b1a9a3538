"""`auth.install(app)`: router, error handlers, lifespan (tables, event drain), health."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, InvalidTokenError, metadata
from authmanager.hooks import AuthEvent
from authmanager.testing import test_settings
from tests.app import User, Users
from tests.conftest import PASSWORD, client_for
from tests.support.http import bearer

MakeManager = Callable[..., AuthManager[User]]


def _app(auth: AuthManager[User], **install: bool) -> FastAPI:
    app = FastAPI()
    auth.install(app, **install)

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, int]:
        return {"id": user.id}

    @app.get("/own-check")
    async def own_check() -> None:
        raise InvalidTokenError("The application refused this token.")

    return app


async def test_protected_app_routes_answer_in_the_library_shape(
    manager: AuthManager[User],
) -> None:
    """The app's own routes answer 401 with `error`, `error_description` and the header."""
    app = _app(manager)
    async with client_for(app) as client:
        missing = await client.get("/me")
        forged = await client.get("/me", headers=bearer("not.a.token"))
        raised = await client.get("/own-check")
    assert missing.status_code == 401
    assert missing.json() == {
        "detail": "Not authenticated.",
        "error": "invalid_request",
        "error_description": "Not authenticated.",
        "reason": "missing",
    }
    assert forged.status_code == 401
    assert forged.json()["error"] == "invalid_token"
    assert forged.headers["www-authenticate"].startswith("Bearer")
    assert raised.status_code == 401
    assert raised.json()["error_description"] == "The application refused this token."


async def test_openapi_declares_the_errors_of_protected_app_routes(
    manager: AuthManager[User],
) -> None:
    """A route behind `current_user` documents 401, 403 and 503 with the error body."""
    doc = _app(manager).openapi()
    answers = doc["paths"]["/me"]["get"]["responses"]
    assert {"200", "401", "403", "503"} <= set(answers)
    assert answers["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "security" not in doc["paths"]["/own-check"]["get"]
    assert set(doc["paths"]["/own-check"]["get"]["responses"]) == {"200"}
    login = doc["paths"]["/auth/login"]["post"]["responses"]
    assert {"400", "401", "422", "429", "503"} <= set(login)


async def test_lifespan_creates_the_tables_when_asked(tmp_path: Path) -> None:
    """`install(app, create_tables=True)` creates every token table at start-up."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    factory = async_sessionmaker(engine, expire_on_commit=False)
    auth = AuthManager(settings=test_settings(), session_factory=factory, user_loader=Users())
    app = _app(auth, create_tables=True)
    try:
        async with engine.connect() as conn:
            before = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        async with LifespanManager(app), client_for(app) as client:
            health = await client.get("/auth/health")
        async with engine.connect() as conn:
            after = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert before == set()
    assert set(metadata.tables) <= after
    assert health.json() == {"status": "ok"}


async def test_health_reports_a_store_without_tables_as_503(tmp_path: Path) -> None:
    """Without `create_tables` on an empty database, health says 503, with Retry-After."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    factory = async_sessionmaker(engine, expire_on_commit=False)
    auth = AuthManager(settings=test_settings(), session_factory=factory, user_loader=Users())
    app = _app(auth)
    try:
        async with LifespanManager(app), client_for(app) as client:
            health = await client.get("/auth/health")
    finally:
        await engine.dispose()
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert health.headers["retry-after"] == "5"
    assert health.headers["cache-control"] == "no-store"


async def test_health_of_an_unreachable_database_is_503() -> None:
    """A database that does not answer is reported, not raised."""
    engine = create_async_engine("postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none")
    factory = async_sessionmaker(engine, expire_on_commit=False)
    auth = AuthManager(settings=test_settings(), session_factory=factory, user_loader=Users())
    try:
        async with client_for(_app(auth)) as client:
            health = await client.get("/auth/health")
    finally:
        await engine.dispose()
    assert health.status_code == 503
    assert "temporarily unavailable" in health.json()["detail"]


async def test_health_on_a_live_store_is_ok(manager: AuthManager[User]) -> None:
    """On the test database (SQLite, PostgreSQL) health answers 200 `ok`."""
    async with client_for(_app(manager)) as client:
        health = await client.get("/auth/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    await manager.check_health()  # the same question, from Python


async def test_shutdown_drains_pending_hook_events(make_manager: MakeManager, user: User) -> None:
    """Events still on their way when the app stops reach the hooks before shutdown ends."""
    delivered: list[str] = []

    async def slow_hook(event: AuthEvent) -> None:
        await asyncio.sleep(0.3)
        delivered.append(str(event.name))

    auth = make_manager(hooks=[slow_hook], audit_log=False)
    app = _app(auth)
    async with LifespanManager(app), client_for(app) as client:
        login = await client.post(
            "/auth/login", data={"username": user.email, "password": PASSWORD}
        )
        assert login.status_code == 200
        assert delivered == []  # still sleeping
    assert {"login.succeeded", "token.issued"} <= set(delivered)
