"""`POST /auth/login` over HTTP: the RFC 6749 password grant, the cookie, the failures."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import PASSWORD, CreateUser, login
from tests.support.http import bearer, set_cookies
from tests.support.rows import Tables
from tests.support.tokens import claims

ClientWith = Callable[..., httpx.AsyncClient]


async def test_login_answers_rfc6749_token_response(
    client: httpx.AsyncClient,
    user: User,
    tables: Tables,
    manager: AuthManager[User],
    events: CapturingHook,
) -> None:
    """A good password gets an access token in the RFC 6749 §5.1 shape, no-store, tracked."""
    response = await login(client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    access = claims(body["access_token"])
    assert access["sub"] == str(user.id)
    assert access["type"] == "access"
    row = await tables.token(access["jti"])
    assert row.revoked_at is None
    assert row.session_id == access["sid"]
    assert (await client.get("/me", headers=bearer(body["access_token"]))).json() == {
        "id": user.id,
        "email": user.email,
    }
    await manager.drain_events()
    assert events.last("login.succeeded").user_id == str(user.id)


async def test_login_sets_hardened_refresh_cookie(
    client: httpx.AsyncClient, user: User, tables: Tables
) -> None:
    """The refresh cookie is HttpOnly, Secure, SameSite=strict, scoped to /auth, with its life."""
    response = await login(client)
    cookies = set_cookies(response)
    refresh = cookies["refresh_token"]
    assert {"httponly", "secure"} <= refresh.flags
    assert refresh.attrs["samesite"].lower() == "strict"
    assert refresh.attrs["path"] == "/auth"
    assert refresh.attrs["max-age"] == str(7 * 24 * 3600)
    payload = claims(refresh.value)
    assert payload["type"] == "refresh"
    assert payload["sid"] == claims(response.json()["access_token"])["sid"]
    assert (await tables.token(payload["jti"])).revoked_at is None
    csrf = cookies["csrf_token"]
    assert "httponly" not in csrf.flags  # the page's script must read it
    assert "secure" in csrf.flags
    assert csrf.attrs["path"] == "/"


async def test_login_with_grant_type_password_is_accepted(
    client: httpx.AsyncClient, user: User
) -> None:
    """The explicit `grant_type=password` of RFC 6749 §4.3.2 is accepted."""
    response = await client.post(
        "/auth/login",
        data={"grant_type": "password", "username": user.email, "password": PASSWORD},
    )
    assert response.status_code == 200
    assert claims(response.json()["access_token"])["sub"] == str(user.id)


async def test_wrong_password_is_401_invalid_grant(
    client: httpx.AsyncClient,
    user: User,
    manager: AuthManager[User],
    events: CapturingHook,
    tables: Tables,
) -> None:
    """A wrong password is 401 with WWW-Authenticate, `invalid_grant`, no cookie, no session."""
    response = await login(client, password="wrong password")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["detail"]
    assert "set-cookie" not in response.headers
    assert await tables.live_sessions(str(user.id)) == []
    await manager.drain_events()
    failed = events.last("login.failed")
    assert failed.reason == "bad_credentials"


async def test_unknown_login_is_the_same_401(client: httpx.AsyncClient, user: User) -> None:
    """An unknown login gets exactly the answer of a wrong password."""
    unknown = await login(client, email="nobody@example.com")
    wrong = await login(client, password="wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


async def test_inactive_user_cannot_log_in(
    client: httpx.AsyncClient, create_user: CreateUser
) -> None:
    """An inactive user is refused with 401 `invalid_grant`."""
    await create_user(email="off@example.com", is_active=False)
    response = await login(client, email="off@example.com")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


async def test_malformed_login_form_is_422_invalid_request(
    client: httpx.AsyncClient, user: User
) -> None:
    """A form without a password is 422 `invalid_request`, and the input is not echoed."""
    response = await client.post("/auth/login", data={"username": user.email})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert [e["loc"] for e in body["detail"]] == [["body", "password"]]
    assert user.email not in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_wrong_grant_type_is_400(client: httpx.AsyncClient, user: User) -> None:
    """A password form with another `grant_type` is 400 `unsupported_grant_type` (RFC 6749)."""
    response = await client.post(
        "/auth/login",
        data={"grant_type": "client_credentials", "username": user.email, "password": PASSWORD},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert PASSWORD not in response.text


async def test_json_login_is_422(client: httpx.AsyncClient, user: User) -> None:
    """`/login` takes the OAuth 2.0 form only; a JSON body is malformed."""
    response = await client.post("/auth/login", json={"username": user.email, "password": PASSWORD})
    assert response.status_code == 422
    assert PASSWORD not in response.text


async def test_rate_limited_login_is_429_with_retry_after(
    client_with: ClientWith, user: User, manager: AuthManager[User], events: CapturingHook
) -> None:
    """After the allowed failures the next attempt is 429 with Retry-After, even with the
    right password."""
    client = client_with(login_rate_limit="2/15 minutes")
    for _ in range(2):
        assert (await login(client, password="wrong")).status_code == 401
    response = await login(client)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]
    assert "set-cookie" not in response.headers


async def test_body_transport_returns_refresh_token_in_body(
    client_with: ClientWith, user: User
) -> None:
    """With the body transport the refresh token is in the JSON and no cookie is set."""
    client = client_with(refresh_token_transport="body")
    response = await login(client)
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert claims(body["refresh_token"])["type"] == "refresh"
    assert body["refresh_expires_in"] == 7 * 24 * 3600
    assert "set-cookie" not in response.headers


async def test_both_transport_sets_cookie_and_body(client_with: ClientWith, user: User) -> None:
    """With `both`, the same refresh token is in the body and in the cookie."""
    client = client_with(refresh_token_transport="both")
    response = await login(client)
    assert response.json()["refresh_token"] == set_cookies(response)["refresh_token"].value


async def test_fresh_route_reissues_fresh_access_token(
    client: httpx.AsyncClient, user: User
) -> None:
    """`/fresh` with the password gives a fresh access token in the same session; a wrong
    password is 401."""
    await login(client)
    refreshed = await client.post(
        "/auth/refresh", headers={"X-CSRF-Token": client.cookies["csrf_token"]}
    )
    stale = refreshed.json()["access_token"]
    assert (await client.post("/change-email", headers=bearer(stale))).status_code == 401
    wrong = await client.post("/auth/fresh", data={"password": "wrong"}, headers=bearer(stale))
    assert wrong.status_code == 401
    response = await client.post("/auth/fresh", data={"password": PASSWORD}, headers=bearer(stale))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    fresh = response.json()["access_token"]
    assert claims(fresh)["sid"] == claims(stale)["sid"]
    assert (await client.post("/change-email", headers=bearer(fresh))).json() == {"id": user.id}
