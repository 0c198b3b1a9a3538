"""Refusals made before token verification (CSRF, duplicated or malformed credentials)
are reported as `token.rejected` with a stable reason and the client's address and agent;
a plain missing token is not."""

from __future__ import annotations

import httpx

from authmanager import AuthManager
from authmanager.hooks import AuthEvent, EventName
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import csrf_headers, login
from tests.support.http import bearer, logged_in
from tests.support.rows import Tables
from tests.support.tokens import claims

AGENT = "polish-agent/1.0"
UA = {"User-Agent": AGENT}
CLIENT_IP = "127.0.0.1"  # httpx.ASGITransport's default peer


async def only_rejection(manager: AuthManager[User], events: CapturingHook) -> AuthEvent:
    """The one `token.rejected` event reported, after draining the hooks."""
    await manager.drain_events()
    found = events.of(EventName.TOKEN_REJECTED)
    assert len(found) == 1, events.names()
    return found[0]


def assert_reported(event: AuthEvent, reason: str) -> None:
    """The event names *reason*, the client's address and agent, and no token ids."""
    assert event.reason == reason
    assert event.client_ip == CLIENT_IP
    assert event.user_agent == AGENT
    assert (event.user_id, event.session_id, event.token_id) == (None, None, None)


async def test_cross_site_login_is_reported_as_csrf(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """A login form from another origin is 403 `csrf`, reported, and never checks the password."""
    response = await login(client, headers={"Origin": "https://evil.example", **UA})
    assert response.status_code == 403
    assert response.json()["reason"] == "csrf"
    assert_reported(await only_rejection(manager, events), "csrf")
    assert not events.of(EventName.LOGIN_FAILED)
    assert not events.of(EventName.LOGIN_SUCCEEDED)


async def test_cookie_refresh_without_csrf_header_is_reported(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    user: User,
    events: CapturingHook,
    tables: Tables,
) -> None:
    """A cookie refresh without the double-submit header is 403 `csrf`, reported, rotates
    nothing."""
    await logged_in(client)
    refresh = client.cookies["refresh_token"]
    events.clear()
    response = await client.post("/auth/refresh", headers=UA)
    assert response.status_code == 403
    assert response.json()["reason"] == "csrf"
    assert_reported(await only_rejection(manager, events), "csrf")
    assert (await tables.token(claims(refresh)["jti"])).replaced_by is None


async def test_cookie_refresh_with_forged_csrf_header_is_reported(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """A double-submit header that does not match the cookie is 403 `csrf` and reported."""
    await logged_in(client)
    events.clear()
    response = await client.post("/auth/refresh", headers={"X-CSRF-Token": "forged", **UA})
    assert response.status_code == 403
    assert response.json()["reason"] == "csrf"
    assert_reported(await only_rejection(manager, events), "csrf")
    assert not events.of(EventName.TOKEN_REFRESHED)


async def test_cross_site_logout_is_reported_and_ends_nothing(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    user: User,
    events: CapturingHook,
    tables: Tables,
) -> None:
    """`/logout` with `Sec-Fetch-Site: cross-site` is 403 `csrf`, reported; the session
    lives on."""
    session = await logged_in(client)
    events.clear()
    headers = {**bearer(session.access), "Sec-Fetch-Site": "cross-site", **UA}
    response = await client.post("/auth/logout", headers=headers)
    assert response.status_code == 403
    assert response.json()["reason"] == "csrf"
    await manager.drain_events()
    (event,) = events.of(EventName.TOKEN_REJECTED)
    assert event.reason == "csrf"
    assert (event.client_ip, event.user_agent) == (CLIENT_IP, AGENT)
    assert not events.of(EventName.LOGOUT)
    assert (await tables.session(session.sid)).revoked_at is None


async def test_two_authorization_headers_are_reported(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """Two `Authorization` headers are 401 `duplicate_credentials`, reported once."""
    session = await logged_in(client)
    events.clear()
    headers = [
        ("Authorization", f"Bearer {session.access}"),
        ("Authorization", "Bearer other"),
        ("User-Agent", AGENT),
    ]
    response = await client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Two Authorization headers were sent."}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_reported(await only_rejection(manager, events), "duplicate_credentials")


async def test_two_different_refresh_cookies_are_reported(
    manager: AuthManager[User], client: httpx.AsyncClient, events: CapturingHook
) -> None:
    """Two different refresh cookies are 401 `duplicate_credentials` and reported."""
    headers = {"Cookie": "refresh_token=first; refresh_token=second", **UA}
    response = await client.post("/auth/refresh", headers=headers)
    assert response.status_code == 401
    assert response.json()["reason"] == "duplicate_credentials"
    assert_reported(await only_rejection(manager, events), "duplicate_credentials")


async def test_cookie_and_body_mismatch_is_reported(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    user: User,
    events: CapturingHook,
    tables: Tables,
) -> None:
    """A body refresh token other than the cookie's is 401 `duplicate_credentials`, reported,
    rotates nothing."""
    await logged_in(client)
    refresh = client.cookies["refresh_token"]
    events.clear()
    response = await client.post("/auth/refresh", json={"refresh_token": "another"}, headers=UA)
    assert response.status_code == 401
    assert response.json()["reason"] == "duplicate_credentials"
    assert_reported(await only_rejection(manager, events), "duplicate_credentials")
    assert (await tables.token(claims(refresh)["jti"])).replaced_by is None


async def test_malformed_authorization_header_is_reported(
    manager: AuthManager[User], client: httpx.AsyncClient, events: CapturingHook
) -> None:
    """An `Authorization` header that is not `Bearer <token>` is 401 `malformed`, reported."""
    response = await client.get("/me", headers={"Authorization": "Basic dXNlcjpwdw==", **UA})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization header must be" in response.json()["detail"]
    assert_reported(await only_rejection(manager, events), "malformed")


async def test_malformed_header_on_optional_route_is_reported(
    manager: AuthManager[User], client: httpx.AsyncClient, events: CapturingHook
) -> None:
    """A malformed header on an optional-user route is still 401 and reported."""
    response = await client.get("/maybe", headers={"Authorization": "Bearer", **UA})
    assert response.status_code == 401
    assert "Authorization header must be" in response.json()["detail"]
    assert_reported(await only_rejection(manager, events), "malformed")


async def test_missing_token_is_not_reported(
    manager: AuthManager[User], client: httpx.AsyncClient, events: CapturingHook
) -> None:
    """No token on a protected route or on `/refresh` is 401 `missing` but no event."""
    me = await client.get("/me", headers=UA)
    assert me.status_code == 401
    assert me.json() == {"detail": "Not authenticated."}
    refresh = await client.post("/auth/refresh", headers=UA)
    assert refresh.status_code == 401
    assert refresh.json()["reason"] == "missing"
    anonymous = await client.get("/maybe", headers=UA)
    assert anonymous.status_code == 200
    assert anonymous.json() == {"id": None}
    await manager.drain_events()
    assert events.names() == []


async def test_good_cookie_refresh_reports_no_rejection(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """A same-site cookie refresh with the CSRF header is 200 and reports no rejection."""
    await logged_in(client)
    response = await client.post("/auth/refresh", headers={**csrf_headers(client), **UA})
    assert response.status_code == 200
    await manager.drain_events()
    assert not events.of(EventName.TOKEN_REJECTED)
    assert events.last(EventName.TOKEN_REFRESHED).user_agent == AGENT
