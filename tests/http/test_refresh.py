"""`POST /auth/refresh` over HTTP: every way to send the token, rotation, refusals."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import CreateUser, csrf_headers, login
from tests.support.http import bearer, logged_in, set_cookies
from tests.support.rows import Tables
from tests.support.tokens import claims

ClientWith = Callable[..., httpx.AsyncClient]


async def test_cookie_refresh_rotates_and_sets_new_cookie(
    client: httpx.AsyncClient,
    user: User,
    tables: Tables,
    manager: AuthManager[User],
    events: CapturingHook,
) -> None:
    """Cookie + X-CSRF-Token rotates: new access token, new cookie, old refresh row consumed."""
    session = await logged_in(client)
    old_refresh = client.cookies["refresh_token"]
    response = await client.post("/auth/refresh", headers=csrf_headers(client))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    new_cookie = set_cookies(response)["refresh_token"]
    assert new_cookie.value != old_refresh
    assert {"httponly", "secure"} <= new_cookie.flags
    assert new_cookie.attrs["path"] == "/auth"
    assert claims(new_cookie.value)["sid"] == session.sid
    assert claims(body["access_token"])["sid"] == session.sid
    old_row = await tables.token(claims(old_refresh)["jti"])
    assert old_row.replaced_by == claims(new_cookie.value)["jti"]
    assert (await client.get("/me", headers=bearer(body["access_token"]))).status_code == 200
    await manager.drain_events()
    assert events.last("token.refreshed").session_id == session.sid


async def test_json_body_refresh(client_with: ClientWith, user: User) -> None:
    """`{"refresh_token": ...}` in JSON rotates and, with body transport, returns the new one."""
    client = client_with(refresh_token_transport="body")
    first = (await login(client)).json()
    response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert claims(body["refresh_token"])["sid"] == claims(first["refresh_token"])["sid"]
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"


async def test_oauth2_form_refresh_grant(client_with: ClientWith, user: User) -> None:
    """The RFC 6749 §6 form `grant_type=refresh_token&refresh_token=...` rotates."""
    client = client_with(refresh_token_transport="body")
    first = (await login(client)).json()
    response = await client.post(
        "/auth/refresh",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    assert response.json()["refresh_token"] != first["refresh_token"]


async def test_rotated_refresh_token_is_refused(client_with: ClientWith, user: User) -> None:
    """The refresh token used once is 401 `invalid_grant` the second time."""
    client = client_with(refresh_token_transport="body", refresh_reuse_grace_seconds=0)
    first = (await login(client)).json()
    ok = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert ok.status_code == 200
    again = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_grant"
    assert again.headers["www-authenticate"].startswith("Bearer")
    # Reuse after the grace window ends the whole session: the new pair is dead too.
    newest = ok.json()
    assert (await client.get("/me", headers=bearer(newest["access_token"]))).status_code == 401
    dead = await client.post("/auth/refresh", json={"refresh_token": newest["refresh_token"]})
    assert dead.status_code == 401


async def test_both_transport_with_cookie_and_same_body(
    client_with: ClientWith, user: User
) -> None:
    """With `both`, the cookie and an identical body token together are one token: accepted."""
    client = client_with(refresh_token_transport="both")
    first = (await login(client)).json()
    response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    new = response.json()["refresh_token"]
    assert set_cookies(response)["refresh_token"].value == new


async def test_cookie_and_different_body_token_refused(
    client_with: ClientWith, user: User, tables: Tables
) -> None:
    """A cookie and a different body token are refused (401) and neither rotates."""
    client = client_with(refresh_token_transport="both")
    a = (await login(client)).json()["refresh_token"]
    client.cookies.clear()
    b = (await login(client)).json()["refresh_token"]  # the cookie now holds b
    response = await client.post("/auth/refresh", json={"refresh_token": a})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_request"
    assert response.json()["reason"] == "duplicate_credentials"
    for token in (a, b):
        assert (await tables.token(claims(token)["jti"])).replaced_by is None


async def test_two_refresh_cookies_refused(
    client: httpx.AsyncClient, user: User, tables: Tables
) -> None:
    """Two different refresh cookies in one request are refused, not resolved."""
    await logged_in(client)
    a = client.cookies["refresh_token"]
    csrf = client.cookies["csrf_token"]
    client.cookies.clear()
    await logged_in(client)
    b = client.cookies["refresh_token"]
    client.cookies.clear()
    response = await client.post(
        "/auth/refresh",
        headers={
            "Cookie": f"refresh_token={a}; refresh_token={b}; csrf_token={csrf}",
            "X-CSRF-Token": csrf,
        },
    )
    assert response.status_code == 401
    assert response.json()["reason"] == "duplicate_credentials"
    for token in (a, b):
        assert (await tables.token(claims(token)["jti"])).replaced_by is None


async def test_missing_refresh_token_is_401(client: httpx.AsyncClient, user: User) -> None:
    """No cookie and no body: 401 with WWW-Authenticate and `invalid_request`."""
    response = await client.post("/auth/refresh")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "invalid_request"


async def test_garbage_refresh_token_is_401_invalid_grant(client_with: ClientWith) -> None:
    """A token that is not a JWT is 401 `invalid_grant`."""
    client = client_with(refresh_token_transport="body")
    response = await client.post("/auth/refresh", json={"refresh_token": "not-a-token"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


async def test_access_token_is_not_a_refresh_token(client_with: ClientWith, user: User) -> None:
    """An access token sent to /refresh is 401."""
    client = client_with(refresh_token_transport="body")
    access = (await login(client)).json()["access_token"]
    response = await client.post("/auth/refresh", json={"refresh_token": access})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


async def test_malformed_refresh_bodies_are_422(client_with: ClientWith) -> None:
    """A wrong JSON shape or body type: 422 `invalid_request`; another grant 400; a form
    without the token means the cookie (none here: 401)."""
    client = client_with(refresh_token_transport="body")
    attempts = [
        client.post("/auth/refresh", json={"token": "x"}),
        client.post(
            "/auth/refresh", content=b"{not json", headers={"content-type": "application/json"}
        ),
        client.post("/auth/refresh", content=b"x", headers={"content-type": "text/plain"}),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "invalid_request"
    other = await client.post(
        "/auth/refresh", data={"grant_type": "password", "refresh_token": "x"}
    )
    assert other.status_code == 400, other.text
    assert other.json()["error"] == "unsupported_grant_type"
    no_token = await client.post("/auth/refresh", data={"grant_type": "refresh_token"})
    assert no_token.status_code == 401, no_token.text
    assert no_token.json()["reason"] == "missing"


async def test_refresh_of_inactive_user_is_refused(
    client_with: ClientWith,
    create_user: CreateUser,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A user made inactive after login cannot refresh."""
    user = await create_user()
    client = client_with(refresh_token_transport="body")
    first = (await login(client)).json()
    async with session_factory() as db, db.begin():
        await db.execute(update(User).where(User.id == user.id).values(is_active=False))
    response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
