"""Logout, logout everywhere and session management over HTTP."""

from __future__ import annotations

import httpx

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import CreateUser, client_for, csrf_headers
from tests.support.http import bearer, logged_in, set_cookies
from tests.support.rows import Tables


async def test_logout_ends_session_and_clears_cookie(
    client: httpx.AsyncClient,
    user: User,
    tables: Tables,
    manager: AuthManager[User],
    events: CapturingHook,
) -> None:
    """`/logout` answers 200, clears both cookies, and kills the session's two tokens."""
    session = await logged_in(client)
    refresh_cookie = client.cookies["refresh_token"]
    csrf = csrf_headers(client)
    response = await client.post("/auth/logout", headers=bearer(session.access))
    assert response.status_code == 200
    assert response.json() == {"detail": "Logged out."}
    cleared = set_cookies(response)
    for name, path in (("refresh_token", "/auth"), ("csrf_token", "/")):
        assert cleared[name].value == ""
        assert cleared[name].attrs["max-age"] == "0"
        assert cleared[name].attrs["path"] == path
    assert "refresh_token" not in client.cookies
    assert (await client.get("/me", headers=bearer(session.access))).status_code == 401
    token = csrf["X-CSRF-Token"]
    again = await client.post(
        "/auth/refresh",
        headers={**csrf, "Cookie": f"refresh_token={refresh_cookie}; csrf_token={token}"},
    )
    assert again.status_code == 401
    assert (await tables.session(session.sid)).revoked_at is not None
    assert session.refresh_jti is not None
    assert (await tables.token(session.refresh_jti)).revoked_at is not None
    assert (await tables.token(session.jti)).revoked_at is not None
    await manager.drain_events()
    assert events.last("logout").session_id == session.sid


async def test_logout_without_token_is_401(client: httpx.AsyncClient) -> None:
    """`/logout` without a bearer token is 401 with WWW-Authenticate."""
    response = await client.post("/auth/logout")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_logout_all_counts_and_ends_every_session(
    client: httpx.AsyncClient, user: User, tables: Tables
) -> None:
    """`/logout-all` ends all the user's sessions and reports the revoked tokens."""
    first = await logged_in(client)
    second = await logged_in(client)
    response = await client.post("/auth/logout-all", headers=bearer(second.access))
    assert response.status_code == 200
    body = response.json()
    assert body["revoked"] == 4  # two sessions, an access and a refresh token each
    assert body["detail"]
    assert set_cookies(response)["refresh_token"].attrs["max-age"] == "0"
    for s in (first, second):
        assert (await client.get("/me", headers=bearer(s.access))).status_code == 401
    assert await tables.live_sessions(str(user.id)) == []


async def test_sessions_lists_mine_with_current_marked(
    client: httpx.AsyncClient, user: User, create_user: CreateUser
) -> None:
    """`/sessions` lists only the caller's sessions, the calling one marked current."""
    other = await create_user(email="bob@example.com")
    first = await logged_in(client)
    second = await logged_in(client)
    await logged_in(client, other.email)
    response = await client.get(
        "/auth/sessions", headers={**bearer(second.access), "User-Agent": "pytest-agent"}
    )
    assert response.status_code == 200
    listed = {s["id"]: s for s in response.json()}
    assert set(listed) == {first.sid, second.sid}
    assert listed[second.sid]["current"] is True
    assert listed[first.sid]["current"] is False
    for s in listed.values():
        assert set(s) == {
            "id",
            "created_at",
            "last_used_at",
            "expires_at",
            "user_agent",
            "ip_address",
            "current",
        }
        assert s["ip_address"] == "127.0.0.1"
        assert s["user_agent"].startswith("python-httpx")


async def test_sessions_requires_a_token(client: httpx.AsyncClient) -> None:
    """`/sessions` without a token is 401."""
    response = await client.get("/auth/sessions")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_delete_own_session_is_204(
    client: httpx.AsyncClient,
    user: User,
    tables: Tables,
    manager: AuthManager[User],
    events: CapturingHook,
) -> None:
    """Deleting one of my other sessions answers 204 and that session's token dies."""
    laptop = await logged_in(client)
    phone = await logged_in(client)
    response = await client.delete(f"/auth/sessions/{laptop.sid}", headers=bearer(phone.access))
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get("/me", headers=bearer(laptop.access))).status_code == 401
    assert (await client.get("/me", headers=bearer(phone.access))).status_code == 200
    assert await tables.live_sessions(str(user.id)) == [phone.sid]
    await manager.drain_events()
    assert events.last("session.revoked").session_id == laptop.sid


async def test_delete_other_users_session_is_404_and_harmless(
    manager: AuthManager[User], user: User, create_user: CreateUser, tables: Tables
) -> None:
    """Deleting another user's session answers 404, and that session stays alive."""
    bob = await create_user(email="bob@example.com")
    app = make_app(manager)
    async with client_for(app) as alice_client, client_for(app) as bob_client:
        alice = await logged_in(alice_client)
        bobs = await logged_in(bob_client, bob.email)
        response = await alice_client.delete(
            f"/auth/sessions/{bobs.sid}", headers=bearer(alice.access)
        )
        assert response.status_code == 404
        assert response.json()["detail"]
        assert (await bob_client.get("/me", headers=bearer(bobs.access))).status_code == 200
        refreshed = await bob_client.post("/auth/refresh", headers=csrf_headers(bob_client))
        assert refreshed.status_code == 200
    assert await tables.live_sessions(str(bob.id)) == [bobs.sid]


async def test_delete_unknown_session_is_404(client: httpx.AsyncClient, user: User) -> None:
    """Deleting a session id that does not exist answers 404."""
    session = await logged_in(client)
    response = await client.delete("/auth/sessions/nope", headers=bearer(session.access))
    assert response.status_code == 404


async def test_revoke_others_keeps_only_the_current_session(
    client: httpx.AsyncClient, user: User, tables: Tables
) -> None:
    """`/sessions/revoke-others` ends every other session, keeps mine, reports the count."""
    old1 = await logged_in(client)
    old2 = await logged_in(client)
    current = await logged_in(client)
    response = await client.post("/auth/sessions/revoke-others", headers=bearer(current.access))
    assert response.status_code == 200
    assert response.json()["revoked"] == 4
    assert response.json()["detail"]
    for s in (old1, old2):
        assert (await client.get("/me", headers=bearer(s.access))).status_code == 401
    assert (await client.get("/me", headers=bearer(current.access))).status_code == 200
    assert await tables.live_sessions(str(user.id)) == [current.sid]
    refreshed = await client.post("/auth/refresh", headers=csrf_headers(client))
    assert refreshed.status_code == 200
