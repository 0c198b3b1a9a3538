"""Fail closed: with the database down nothing passes, and nothing is half-written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from authmanager import AuthManager, TokenPair
from authmanager._core.models import tokens
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook, test_settings
from tests.app import User, Users, make_app
from tests.conftest import MakeManager, bearer, client_for, csrf_headers, login


@pytest.fixture
async def dead_factory(
    database: str, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory whose database cannot be used (a file that is not SQLite, closed port).

    (A missing directory fails the same way, but aiosqlite's worker thread then races the
    closing event loop on teardown; a corrupt file fails at the first statement instead.)
    """
    if database.startswith("sqlite"):
        path = tmp_path / "corrupt.db"
        path.write_bytes(b"this is not an SQLite database file, but the disk is full of it" * 64)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = "postgresql+asyncpg://authmanager:authmanager@127.0.0.1:1/authmanager"
    engine = create_async_engine(url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
async def dead(
    dead_factory: async_sessionmaker[AsyncSession], events: CapturingHook
) -> AsyncIterator[tuple[AuthManager[User], httpx.AsyncClient]]:
    """A manager on the unreachable database, and a client of its app."""
    auth = AuthManager(
        settings=test_settings(), session_factory=dead_factory, user_loader=Users(), hooks=[events]
    )
    async with client_for(make_app(auth)) as client:
        yield auth, client


@pytest.fixture
async def pair(make_manager: MakeManager, user: User) -> TokenPair:
    """A genuine pair from a manager with the same settings on a live database."""
    return await make_manager().create_token_pair({"sub": str(user.id)})


def _unavailable(response: httpx.Response) -> dict[str, Any]:
    """503, a JSON body that says so, Retry-After, and no traceback."""
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.headers["content-type"] == "application/json"
    assert "Traceback" not in response.text
    assert "OperationalError" not in response.text
    body: dict[str, Any] = response.json()
    assert body["detail"] == "The authentication service is temporarily unavailable."
    return body


async def test_protected_route_answers_503_when_store_is_down(
    dead: tuple[AuthManager[User], httpx.AsyncClient], pair: TokenPair
) -> None:
    """A valid token cannot be checked against a dead store: 503, never 200."""
    _, client = dead
    _unavailable(await client.get("/me", headers=bearer(pair.access_token)))


async def test_router_route_answers_503_with_oauth_error(
    dead: tuple[AuthManager[User], httpx.AsyncClient], pair: TokenPair
) -> None:
    """The router's own routes answer 503 with `temporarily_unavailable`."""
    _, client = dead
    body = _unavailable(await client.get("/auth/sessions", headers=bearer(pair.access_token)))
    assert body["error"] == "temporarily_unavailable"
    assert body["reason"] == "store_unavailable"


async def test_login_answers_503_when_store_is_down(
    dead: tuple[AuthManager[User], httpx.AsyncClient], events: CapturingHook
) -> None:
    """/login answers 503 (not 401: the password was never checked) and logs no success."""
    auth, client = dead
    body = _unavailable(await login(client))
    assert body["error"] == "temporarily_unavailable"
    await auth.drain_events()
    assert events.of(EventName.LOGIN_SUCCEEDED) == []


async def test_refresh_answers_503_when_store_is_down(
    dead: tuple[AuthManager[User], httpx.AsyncClient], pair: TokenPair, events: CapturingHook
) -> None:
    """/refresh answers 503 and issues nothing."""
    auth, client = dead
    response = await client.post("/auth/refresh", json={"refresh_token": pair.refresh_token})
    assert _unavailable(response)["error"] == "temporarily_unavailable"
    await auth.drain_events()
    assert events.of(EventName.TOKEN_REFRESHED) == []


async def test_logout_answers_503_when_store_is_down(
    dead: tuple[AuthManager[User], httpx.AsyncClient], pair: TokenPair
) -> None:
    """/logout answers 503 rather than pretending the session ended."""
    _, client = dead
    _unavailable(await client.post("/auth/logout", headers=bearer(pair.access_token)))


class FlakyUsers(Users):
    """The test loader, whose `get_user` can be made to lose its connection."""

    fail = False

    async def get_user(self, session: AsyncSession, user_id: str) -> User | None:
        if self.fail:
            raise OperationalError("SELECT test_users", {}, ConnectionResetError("lost"))
        return await super().get_user(session, user_id)


async def _live_refresh_tokens(session_factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_factory() as db:
        query = (
            select(func.count())
            .select_from(tokens)
            .where(tokens.c.type == "refresh", tokens.c.revoked_at.is_(None))
        )
        return int((await db.execute(query)).scalar_one())


async def test_refresh_failing_midway_leaves_the_old_token_valid(
    session_factory: async_sessionmaker[AsyncSession], user: User, events: CapturingHook
) -> None:
    """A refresh whose user look-up fails after consuming the token rolls back entirely."""
    loader = FlakyUsers()
    auth = AuthManager(
        settings=test_settings(),
        session_factory=session_factory,
        user_loader=loader,
        hooks=[events],
    )
    async with client_for(make_app(auth)) as client:
        assert (await login(client)).status_code == 200
        old_cookie = client.cookies.get("refresh_token")
        assert await _live_refresh_tokens(session_factory) == 1
        loader.fail = True
        failed = await client.post("/auth/refresh", headers=csrf_headers(client))
        assert _unavailable(failed)["error"] == "temporarily_unavailable"
        assert "set-cookie" not in failed.headers
        assert await _live_refresh_tokens(session_factory) == 1
        loader.fail = False
        assert client.cookies.get("refresh_token") == old_cookie
        retried = await client.post("/auth/refresh", headers=csrf_headers(client))
        assert retried.status_code == 200, retried.text
        assert await _live_refresh_tokens(session_factory) == 1
        await auth.drain_events()
        assert len(events.of(EventName.TOKEN_REFRESHED)) == 1
        assert events.of(EventName.REFRESH_REUSE_DETECTED) == []
