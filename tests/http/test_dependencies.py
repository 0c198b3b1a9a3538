"""The manager's dependencies in an application's own routes, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from freezegun import freeze_time
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import (
    AuthManager,
    InvalidTokenError,
    RateLimitExceededError,
    TokenStoreUnavailableError,
    install_exception_handlers,
)
from authmanager.testing import test_settings
from tests.app import User, Users, make_app
from tests.conftest import CreateUser, client_for, csrf_headers
from tests.support.http import bearer, logged_in


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


@pytest.fixture
async def client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    """The test app with `install_exception_handlers`, so bodies carry `error` and `reason`."""
    app = make_app(manager)
    install_exception_handlers(app)
    async with client_for(app) as c:
        yield c


async def test_without_handlers_errors_are_plain_detail(
    manager: AuthManager[User], user: User
) -> None:
    """Without `install_exception_handlers`, app routes still answer 401/403 with the header."""
    async with client_for(make_app(manager)) as plain:
        missing = await plain.get("/me")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json() == {"detail": "Not authenticated."}
        session = await logged_in(plain)
        forbidden = await plain.get("/admin", headers=bearer(session.access))
        assert forbidden.status_code == 403
        assert forbidden.json() == {"detail": "The token lacks a required scope."}


async def test_current_user_gives_the_user(client: httpx.AsyncClient, user: User) -> None:
    """`current_user` resolves the bearer token to the application's user."""
    session = await logged_in(client)
    response = await client.get("/me", headers=bearer(session.access))
    assert response.status_code == 200
    assert response.json() == {"id": user.id, "email": user.email}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({}, "missing", id="no-header"),
        pytest.param({"Authorization": "Bearer not.a.jwt"}, "malformed", id="garbage"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, "malformed", id="basic"),
        pytest.param({"Authorization": "Bearer"}, "malformed", id="empty-bearer"),
    ],
)
async def test_current_user_refuses_bad_credentials(
    client: httpx.AsyncClient, headers: dict[str, str], reason: str
) -> None:
    """Missing or malformed credentials are 401 with `WWW-Authenticate: Bearer`."""
    response = await client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["reason"] == reason


async def test_expired_access_token_is_401(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User
) -> None:
    """An expired access token is 401 `invalid_token`."""
    token = await manager.create_access_token(
        {"sub": str(user.id)}, expires_in=timedelta(minutes=1)
    )
    with freeze_time(datetime.now(UTC) + timedelta(hours=1), real_asyncio=True):
        response = await client.get("/me", headers=bearer(token))
    assert error_of(response) == (401, "invalid_token")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["reason"] == "expired"


async def test_revoked_access_token_is_401(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User
) -> None:
    """A revoked access token is refused at once."""
    session = await logged_in(client)
    await manager.revoke_token(session.access)
    response = await client.get("/me", headers=bearer(session.access))
    assert error_of(response) == (401, "invalid_token")
    assert response.json()["reason"] == "revoked"


async def test_inactive_user_token_is_401(
    client: httpx.AsyncClient, create_user: CreateUser, manager: AuthManager[User]
) -> None:
    """A valid token of a user who is now inactive is 401 on `current_user`."""
    off = await create_user(email="off@example.com", is_active=False)
    token = await manager.create_access_token({"sub": str(off.id)})
    response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 401


async def test_two_authorization_headers_are_refused(client: httpx.AsyncClient, user: User) -> None:
    """Two `Authorization` headers, even both valid, are refused rather than resolved."""
    session = await logged_in(client)
    headers = [("Authorization", f"Bearer {session.access}")] * 2
    response = await client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["reason"] == "duplicate_credentials"
    maybe = await client.get("/maybe", headers=headers)
    assert maybe.status_code == 401


async def test_token_in_query_string_is_ignored(client: httpx.AsyncClient, user: User) -> None:
    """A token in the URL is never read: `/me` is 401, `/maybe` sees nobody."""
    session = await logged_in(client)
    for name in ("access_token", "token"):
        assert (await client.get("/me", params={name: session.access})).status_code == 401
        maybe = await client.get("/maybe", params={name: session.access})
        assert maybe.json() == {"id": None}


async def test_optional_user(client: httpx.AsyncClient, user: User) -> None:
    """`optional_user` is None without credentials, the user with a token, 401 for a bad one."""
    assert (await client.get("/maybe")).json() == {"id": None}
    session = await logged_in(client)
    assert (await client.get("/maybe", headers=bearer(session.access))).json() == {"id": user.id}
    bad = await client.get("/maybe", headers=bearer("not.a.jwt"))
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith("Bearer")


async def test_token_data_gives_the_verified_payload(client: httpx.AsyncClient, user: User) -> None:
    """`token_data` yields the payload with standard and custom claims."""
    session = await logged_in(client)
    response = await client.get("/claims", headers=bearer(session.access))
    assert response.json() == {
        "sub": str(user.id),
        "sid": session.sid,
        "role": "user",
        "scopes": ["read"],
    }
    assert (await client.get("/claims")).status_code == 401


async def test_require_scopes(client: httpx.AsyncClient, create_user: CreateUser) -> None:
    """`require_scopes("admin")` is 403 `insufficient_scope` without it, 200 with it."""
    await create_user(email="user@example.com")
    await create_user(email="root@example.com", role="admin")
    plain = await logged_in(client, "user@example.com")
    response = await client.get("/admin", headers=bearer(plain.access))
    assert error_of(response) == (403, "insufficient_scope")
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
    admin = await logged_in(client, "root@example.com")
    assert (await client.get("/admin", headers=bearer(admin.access))).status_code == 200
    assert (await client.get("/admin")).status_code == 401


async def test_token_validator(client: httpx.AsyncClient, create_user: CreateUser) -> None:
    """`token_validator(fn)` is 403 when `fn(payload)` is false, 200 when true."""
    await create_user(email="user@example.com")
    root = await create_user(email="root@example.com", role="admin")
    plain = await logged_in(client, "user@example.com")
    response = await client.get("/validated", headers=bearer(plain.access))
    assert error_of(response) == (403, "access_denied")
    assert "www-authenticate" not in response.headers
    admin = await logged_in(client, "root@example.com")
    ok = await client.get("/validated", headers=bearer(admin.access))
    assert ok.json() == {"sub": str(root.id)}


async def test_scope_and_validator_dependencies_are_memoised(manager: AuthManager[User]) -> None:
    """The same scopes or function give the same dependency (overrides can find it)."""
    assert manager.require_scopes("a", "b") is manager.require_scopes("b", "a")

    def check(payload: Any) -> bool:
        return True

    assert manager.token_validator(check) is manager.token_validator(check)


@pytest.fixture
async def peek_client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    """The test app plus a route under /auth that returns the refresh cookie's jti."""
    app = make_app(manager)

    @app.get("/auth/peek")
    async def peek(token: str = Depends(manager.refresh_token_from_cookie)) -> dict[str, int]:
        return {"length": len(token)}

    async with client_for(app) as c:
        yield c


async def test_refresh_token_from_cookie(peek_client: httpx.AsyncClient, user: User) -> None:
    """`refresh_token_from_cookie` reads the cookie; 401 without it or with two."""
    missing = await peek_client.get("/auth/peek")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    await logged_in(peek_client)
    token = peek_client.cookies["refresh_token"]
    assert (await peek_client.get("/auth/peek")).json() == {"length": len(token)}
    peek_client.cookies.clear()
    two = await peek_client.get(
        "/auth/peek", headers={"Cookie": f"refresh_token={token}; refresh_token=other"}
    )
    assert two.status_code == 401
    assert two.json()["detail"]


async def test_logout_dependency_in_app_route(client: httpx.AsyncClient, user: User) -> None:
    """`Depends(auth.logout)` in an app route ends the session and clears the cookie."""
    session = await logged_in(client)
    response = await client.post("/bye", headers=bearer(session.access))
    assert response.status_code == 200
    assert response.json() == {"detail": "Logged out."}
    assert "refresh_token" not in client.cookies
    assert (await client.get("/me", headers=bearer(session.access))).status_code == 401


async def test_fresh_user_only_after_password_login(client: httpx.AsyncClient, user: User) -> None:
    """`fresh_user` admits a token from a password login, not one from a refresh."""
    session = await logged_in(client)
    ok = await client.post("/change-email", headers=bearer(session.access))
    assert ok.json() == {"id": user.id}
    refreshed = await client.post("/auth/refresh", headers=csrf_headers(client))
    stale = await client.post("/change-email", headers=bearer(refreshed.json()["access_token"]))
    assert stale.status_code == 401
    assert stale.json()["reason"] == "not_fresh"


def _raising_app() -> FastAPI:
    app = FastAPI()
    install_exception_handlers(app)

    @app.get("/invalid")
    async def invalid() -> None:
        raise InvalidTokenError("Nope.")

    @app.get("/limited")
    async def limited() -> None:
        raise RateLimitExceededError("Slow down.", retry_after=42)

    @app.get("/down")
    async def down() -> None:
        raise TokenStoreUnavailableError("The store is down.")

    return app


async def test_install_exception_handlers_maps_app_errors() -> None:
    """An `AuthError` raised in an app route gets the router's status, headers and body."""
    async with client_for(_raising_app()) as c:
        invalid = await c.get("/invalid")
        assert error_of(invalid) == (401, "invalid_token")
        assert invalid.json()["detail"] == "Nope."
        assert invalid.headers["www-authenticate"].startswith("Bearer")
        limited = await c.get("/limited")
        assert error_of(limited) == (429, "slow_down")
        assert limited.headers["retry-after"] == "42"
        down = await c.get("/down")
        assert error_of(down) == (503, "temporarily_unavailable")
        assert down.headers["retry-after"]


async def test_unreachable_store_is_503_not_500(tmp_path: Any) -> None:
    """With the database unreachable, login and protected routes answer 503, never 500."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    auth = AuthManager(
        settings=test_settings(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
    )
    try:
        async with client_for(make_app(auth)) as c:
            login_resp = await c.post("/auth/login", data={"username": "a@b.c", "password": "x"})
            assert login_resp.status_code == 503
            assert login_resp.headers["retry-after"]
            me = await c.get("/me", headers=bearer("not.a.jwt"))
            assert me.status_code == 401
    finally:
        await engine.dispose()
