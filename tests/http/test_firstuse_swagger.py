"""Swagger UI works end to end: what its "Try it out" sends is accepted; scopes are declared.

The browser test (tests/browser/test_prefix_browser.py) clicks through Swagger UI; these
tests replay the exact requests it sends and read the OpenAPI document it renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security

from authmanager import AuthManager, TokenPayload
from tests.app import User, make_app
from tests.conftest import PASSWORD, client_for, csrf_headers, login
from tests.support.http import bearer
from tests.support.rows import Tables
from tests.support.tokens import claims

MakeManager = Callable[..., AuthManager[User]]
#: What Swagger UI's "Try it out" on /refresh sends with its form left as it is.
SWAGGER_FORM = "grant_type=&refresh_token="
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": "https://testserver"}


def _refresh_operation(app: FastAPI) -> dict[str, Any]:
    operation: dict[str, Any] = app.openapi()["paths"]["/auth/refresh"]["post"]
    return operation


def test_refresh_body_is_optional_and_form_first(manager: AuthManager[User]) -> None:
    """The body is optional, the form comes first, and nothing in it is required."""
    operation = _refresh_operation(make_app(manager))
    body = operation["requestBody"]
    assert body["required"] is False
    assert list(body["content"]) == ["application/x-www-form-urlencoded", "application/json"]
    form = body["content"]["application/x-www-form-urlencoded"]["schema"]
    assert "required" not in form
    assert form["properties"]["refresh_token"]["examples"] == [""]


def test_refresh_declares_the_csrf_header_and_its_errors(manager: AuthManager[User]) -> None:
    """The double-submit header is a documented optional parameter; 400-503 are declared."""
    operation = _refresh_operation(make_app(manager))
    [header] = operation["parameters"]
    assert (header["name"], header["in"], header["required"]) == ("X-CSRF-Token", "header", False)
    assert {"400", "401", "403", "422", "429", "503"} <= set(operation["responses"])


@pytest.mark.parametrize("transport", ["cookie", "both"])
async def test_swagger_refresh_request_rotates_the_cookie(
    make_manager: MakeManager, user: User, tables: Tables, transport: str
) -> None:
    """Swagger's blank form, same-origin and without the CSRF header, refreshes by cookie."""
    app = make_app(make_manager(refresh_token_transport=transport))
    async with client_for(app) as client:
        await login(client)
        old = client.cookies["refresh_token"]
        response = await client.post(
            "/auth/refresh",
            content=SWAGGER_FORM,
            headers={"Content-Type": "application/x-www-form-urlencoded", **SAME_ORIGIN},
        )
    assert response.status_code == 200, response.text
    assert client.cookies["refresh_token"] != old
    assert (await tables.token(claims(old)["jti"])).replaced_by is not None


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-fetch-metadata"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="same-site"),
        pytest.param({"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}, id="lie"),
    ],
)
async def test_cookie_refresh_without_token_still_needs_same_origin(
    client: httpx.AsyncClient, user: User, tables: Tables, headers: dict[str, str]
) -> None:
    """Only a browser's `same-origin` waives the CSRF token; anything else is still 403."""
    await login(client)
    old = client.cookies["refresh_token"]
    response = await client.post("/auth/refresh", headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["reason"] == "csrf"
    assert (await tables.token(claims(old)["jti"])).replaced_by is None
    assert (await client.post("/auth/refresh", headers=csrf_headers(client))).status_code == 200


async def test_logout_and_sessions_from_swagger_requests(
    client: httpx.AsyncClient, user: User
) -> None:
    """Bearer plus same-origin, as Swagger sends them: sessions list, logout ends the session."""
    access = (await login(client)).json()["access_token"]
    listed = await client.get("/auth/sessions", headers={**bearer(access), **SAME_ORIGIN})
    out = await client.post("/auth/logout", headers={**bearer(access), **SAME_ORIGIN})
    after = await client.get("/auth/sessions", headers=bearer(access))
    assert listed.status_code == 200
    assert [s["current"] for s in listed.json()] == [True]
    assert out.status_code == 200
    assert after.status_code == 401


def _scoped_app(auth: AuthManager[User]) -> FastAPI:
    app = make_app(auth)

    @app.get("/reports")
    async def reports(
        payload: TokenPayload = Security(auth.token_data, scopes=["read"]),
    ) -> dict[str, str]:
        return {"sub": payload.sub}

    @app.get("/audit")
    async def audit(user: User = Security(auth.current_user, scopes=["admin"])) -> dict[str, int]:
        return {"id": user.id}

    orders_read = auth.require_scopes("orders:read")

    @app.get("/orders")
    async def orders(payload: TokenPayload = Depends(orders_read)) -> None:
        return None

    return app


def test_scopes_are_in_the_security_scheme_and_requirements(make_manager: MakeManager) -> None:
    """Configured and required scopes show in the scheme; each route names its own."""
    auth = make_manager(openapi_scopes={"read": "Read reports", "admin": "Administer"})
    doc = _scoped_app(auth).openapi()
    scheme = doc["components"]["securitySchemes"]["BearerScheme"]["flows"]["password"]
    assert scheme["scopes"]["read"] == "Read reports"
    assert scheme["scopes"]["admin"] == "Administer"
    assert "orders:read" in scheme["scopes"]  # added by require_scopes
    assert doc["paths"]["/reports"]["get"]["security"] == [{"BearerScheme": ["read"]}]
    assert doc["paths"]["/audit"]["get"]["security"] == [{"BearerScheme": ["admin"]}]
    assert doc["paths"]["/orders"]["get"]["security"] == [{"BearerScheme": ["orders:read"]}]


async def test_security_scopes_are_enforced(make_manager: MakeManager, user: User) -> None:
    """`Security(auth.current_user, scopes=[...])` answers 403 without the scope."""
    app = _scoped_app(make_manager())
    async with client_for(app) as client:
        access = (await login(client)).json()["access_token"]  # the test user has ["read"]
        allowed = await client.get("/reports", headers=bearer(access))
        refused = await client.get("/audit", headers=bearer(access))
    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["detail"] == "The token lacks a required scope."
    assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'


async def test_login_scope_narrows_the_token(client: httpx.AsyncClient, user: User) -> None:
    """Scopes asked for at /login (as Swagger's Authorize sends them) limit the token."""
    asked = await client.post(
        "/auth/login",
        data={"username": user.email, "password": PASSWORD, "scope": "read admin"},
    )
    plain = await login(client)
    assert asked.status_code == 200, asked.text
    assert asked.json()["scope"] == "read"  # admin is not the user's: not granted, and said
    assert claims(asked.json()["access_token"])["scopes"] == ["read"]
    assert "scope" not in plain.json()
    assert claims(plain.json()["access_token"])["scopes"] == ["read"]
    nothing = await client.post(
        "/auth/login", data={"username": user.email, "password": PASSWORD, "scope": "admin"}
    )
    assert claims(nothing.json()["access_token"])["scopes"] == []
    assert nothing.json()["scope"] == ""
