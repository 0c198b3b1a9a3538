"""CSRF over HTTP: cross-site requests that carry the cookie are refused and change nothing.

The mechanism: an `Origin` / `Sec-Fetch-Site` check on the login form and every cookie
route, plus a double-submit token (the readable `csrf_token` cookie echoed in
`X-CSRF-Token`) on a cookie refresh.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import csrf_headers, login
from tests.support.http import bearer, logged_in
from tests.support.rows import Tables
from tests.support.tokens import claims

ClientWith = Callable[..., httpx.AsyncClient]

CROSS_SITE = [
    pytest.param({"Origin": "https://evil.example"}, id="foreign-origin"),
    pytest.param({"Origin": "null"}, id="null-origin"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-site"),
    pytest.param({"Origin": "http://testserver"}, id="other-scheme"),
]


def assert_csrf_refusal(response: httpx.Response) -> None:
    """403 `access_denied` with reason `csrf`, and no cookie set."""
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "access_denied"
    assert response.json()["reason"] == "csrf"
    assert "set-cookie" not in response.headers


async def assert_unchanged(client: httpx.AsyncClient, tables: Tables, refresh: str) -> None:
    """The refresh token was not rotated and still works."""
    assert (await tables.token(claims(refresh)["jti"])).replaced_by is None
    assert client.cookies["refresh_token"] == refresh
    ok = await client.post("/auth/refresh", headers=csrf_headers(client))
    assert ok.status_code == 200


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_cross_site_cookie_refresh_is_refused(
    client: httpx.AsyncClient, user: User, tables: Tables, headers: dict[str, str]
) -> None:
    """A cookie refresh from another site is 403 even with the CSRF header, and rotates
    nothing."""
    await logged_in(client)
    refresh = client.cookies["refresh_token"]
    response = await client.post("/auth/refresh", headers={**csrf_headers(client), **headers})
    assert_csrf_refusal(response)
    await assert_unchanged(client, tables, refresh)


async def test_cookie_refresh_without_csrf_header_is_refused(
    client: httpx.AsyncClient, user: User, tables: Tables
) -> None:
    """A cookie refresh without `X-CSRF-Token` is 403 and rotates nothing."""
    await logged_in(client)
    refresh = client.cookies["refresh_token"]
    assert_csrf_refusal(await client.post("/auth/refresh"))
    await assert_unchanged(client, tables, refresh)


async def test_cookie_refresh_with_wrong_csrf_header_is_refused(
    client: httpx.AsyncClient, user: User, tables: Tables
) -> None:
    """A cookie refresh whose header does not match the CSRF cookie is 403."""
    await logged_in(client)
    refresh = client.cookies["refresh_token"]
    response = await client.post("/auth/refresh", headers={"X-CSRF-Token": "forged"})
    assert_csrf_refusal(response)
    await assert_unchanged(client, tables, refresh)


async def test_cookie_refresh_without_csrf_cookie_is_refused(
    client: httpx.AsyncClient, user: User, tables: Tables
) -> None:
    """A header with no CSRF cookie to match is 403."""
    await logged_in(client)
    refresh = client.cookies["refresh_token"]
    csrf = client.cookies["csrf_token"]
    client.cookies.delete("csrf_token")
    response = await client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert_csrf_refusal(response)
    client.cookies.set("csrf_token", csrf, domain="testserver.local")
    await assert_unchanged(client, tables, refresh)


async def test_same_origin_cookie_refresh_is_accepted(
    client: httpx.AsyncClient, user: User
) -> None:
    """The app's own Origin with `Sec-Fetch-Site: same-origin` and the header is accepted."""
    await logged_in(client)
    response = await client.post(
        "/auth/refresh",
        headers={
            **csrf_headers(client),
            "Origin": "https://testserver",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert response.status_code == 200


async def test_allowed_origin_setting_admits_that_origin(
    client_with: ClientWith, user: User
) -> None:
    """An origin listed in `allowed_origins` may refresh with the cookie; others may not."""
    client = client_with(allowed_origins=["https://app.example.com"])
    await logged_in(client)
    allowed = await client.post(
        "/auth/refresh",
        headers={**csrf_headers(client), "Origin": "https://app.example.com"},
    )
    assert allowed.status_code == 200
    refused = await client.post(
        "/auth/refresh",
        headers={**csrf_headers(client), "Origin": "https://other.example.com"},
    )
    assert_csrf_refusal(refused)


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_cross_site_login_form_is_refused(
    client: httpx.AsyncClient,
    user: User,
    tables: Tables,
    headers: dict[str, str],
    manager: AuthManager[User],
    events: CapturingHook,
) -> None:
    """Login CSRF: a cross-site login form is 403, logs nobody in and sets no cookie."""
    response = await login(client, headers=headers)
    assert_csrf_refusal(response)
    assert await tables.live_sessions(str(user.id)) == []
    await manager.drain_events()
    assert events.of("login.succeeded") == []


async def test_cross_site_logout_is_refused(
    client: httpx.AsyncClient, user: User, tables: Tables
) -> None:
    """A cross-site `/logout` is 403 and the session lives on."""
    session = await logged_in(client)
    response = await client.post(
        "/auth/logout", headers={**bearer(session.access), "Origin": "https://evil.example"}
    )
    assert_csrf_refusal(response)
    assert await tables.live_sessions(str(user.id)) == [session.sid]
    assert (await client.get("/me", headers=bearer(session.access))).status_code == 200


async def test_body_refresh_needs_no_csrf_header(client_with: ClientWith, user: User) -> None:
    """A refresh token in the body is its own proof: no CSRF header is needed."""
    client = client_with(refresh_token_transport="body")
    first = (await login(client)).json()
    response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200


async def test_csrf_protection_off_accepts_cross_site(client_with: ClientWith, user: User) -> None:
    """With `csrf_protection=False` the checks are skipped (for non-browser deployments)."""
    client = client_with(csrf_protection=False)
    await logged_in(client)
    response = await client.post("/auth/refresh", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
