"""Helpers of the API key HTTP tests: an app whose routes take keys, tokens, or both."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Depends, FastAPI

from authmanager import AuthManager, Principal, install_exception_handlers
from tests.app import User, make_app
from tests.conftest import PASSWORD, bearer, login

CREATE_SCOPES = ["read"]


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _describe(principal: Principal) -> dict[str, Any]:
    return {
        "sub": principal.sub,
        "type": principal.type,
        "scopes": list(principal.scopes),
        "role": principal.get("role"),
    }


def key_app(auth: AuthManager[User]) -> FastAPI:
    """The test app (`/auth`, `/me`, `/claims`, ...) plus routes that accept API keys.

    The library's handlers are installed, so the app's own routes answer with `reason`.
    """
    app = make_app(auth)
    install_exception_handlers(app)
    read = auth.require_scopes("read")
    deploy = auth.require_scopes("deploy")
    is_key = auth.token_validator(lambda p: p.type == "api_key")

    @app.get("/key-user")
    async def key_user(user: User = Depends(auth.api_key_user)) -> dict[str, Any]:
        return {"id": user.id}

    @app.get("/principal")
    async def principal(user: User = Depends(auth.current_principal)) -> dict[str, Any]:
        return {"id": user.id}

    @app.get("/read")
    async def read_route(p: Principal = Depends(read)) -> dict[str, Any]:
        return _describe(p)

    @app.get("/deploy")
    async def deploy_route(p: Principal = Depends(deploy)) -> dict[str, Any]:
        return _describe(p)

    @app.get("/keys-only")
    async def keys_only(p: Principal = Depends(is_key)) -> dict[str, Any]:
        return _describe(p)

    return app


async def access_token(client: httpx.AsyncClient, email: str = "alice@example.com") -> str:
    """Log in over HTTP (a fresh token) and return the access token."""
    response = await login(client, email, PASSWORD)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def create_key(
    client: httpx.AsyncClient, token: str, name: str = "CI", **body: Any
) -> httpx.Response:
    """POST /auth/api-keys with a bearer token."""
    return await client.post("/auth/api-keys", json={"name": name, **body}, headers=bearer(token))
