"""Client address behind proxies, the OpenAPI document, and a custom route prefix."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import Depends, FastAPI

from authmanager import AuthManager
from tests.app import User
from tests.conftest import PASSWORD, client_for, login
from tests.support.http import bearer, set_cookies

ClientWith = Callable[..., httpx.AsyncClient]
FORWARDED = {"X-Forwarded-For": "203.0.113.7"}


async def session_ips(client: httpx.AsyncClient, access: str) -> list[str | None]:
    response = await client.get("/auth/sessions", headers=bearer(access))
    return [s["ip_address"] for s in response.json()]


async def test_forwarded_for_is_ignored_by_default(client: httpx.AsyncClient, user: User) -> None:
    """Without trusted proxies, the session records the peer, not `X-Forwarded-For`."""
    response = await login(client, headers=FORWARDED)
    access = response.json()["access_token"]
    assert await session_ips(client, access) == ["127.0.0.1"]


async def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    client_with: ClientWith, user: User
) -> None:
    """When `trusted_proxies` covers the peer, the forwarded client address is recorded."""
    client = client_with(trusted_proxies=["127.0.0.0/8"])
    response = await login(client, headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7"})
    access = response.json()["access_token"]
    assert await session_ips(client, access) == ["203.0.113.7"]


async def test_untrusted_peer_cannot_forward(client_with: ClientWith, user: User) -> None:
    """A trusted-proxy list that does not cover the peer leaves the header ignored."""
    client = client_with(trusted_proxies=["10.0.0.0/8"])
    response = await login(client, headers=FORWARDED)
    assert await session_ips(client, response.json()["access_token"]) == ["127.0.0.1"]


def _oauth2_scheme(app: FastAPI) -> dict[str, object]:
    schemes = app.openapi()["components"]["securitySchemes"]
    [scheme] = schemes.values()
    password: dict[str, object] = scheme["flows"]["password"]
    return password


def _app(manager: AuthManager[User], prefix: str) -> FastAPI:
    app = FastAPI()
    app.include_router(manager.router, prefix=prefix)

    @app.get("/me")
    async def me(user: User = Depends(manager.current_user)) -> dict[str, int]:
        return {"id": user.id}

    return app


async def test_openapi_token_url_follows_route_prefix(manager: AuthManager[User]) -> None:
    """The OAuth2 scheme's tokenUrl is /auth/login, and protected routes declare it."""
    app = _app(manager, "/auth")
    assert _oauth2_scheme(app)["tokenUrl"] == "/auth/login"
    assert _oauth2_scheme(app)["refreshUrl"] == "/auth/refresh"
    doc = app.openapi()
    assert doc["paths"]["/me"]["get"]["security"]
    for path in ("/auth/login", "/auth/refresh", "/auth/logout", "/auth/sessions"):
        assert path in doc["paths"]
    login_op = doc["paths"]["/auth/login"]["post"]
    assert {"200", "401", "422", "429"} <= set(login_op["responses"])


async def test_custom_prefix_moves_token_url_and_cookie_path(
    make_manager: Callable[..., AuthManager[User]], user: User
) -> None:
    """`route_prefix="/api/v1/auth"` changes the tokenUrl and the refresh cookie's path."""
    manager = make_manager(route_prefix="/api/v1/auth")
    app = _app(manager, "/api/v1/auth")
    assert _oauth2_scheme(app)["tokenUrl"] == "/api/v1/auth/login"
    async with client_for(app) as client:
        response = await client.post(
            "/api/v1/auth/login", data={"username": user.email, "password": PASSWORD}
        )
        assert response.status_code == 200
        assert set_cookies(response)["refresh_token"].attrs["path"] == "/api/v1/auth"
        refreshed = await client.post(
            "/api/v1/auth/refresh", headers={"X-CSRF-Token": client.cookies["csrf_token"]}
        )
        assert refreshed.status_code == 200
        me = await client.get("/me", headers=bearer(refreshed.json()["access_token"]))
        assert me.json() == {"id": user.id}
