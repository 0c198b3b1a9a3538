"""Every event of the contract, emitted over HTTP with the right fields at the right moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager._core.models import sessions
from authmanager.hooks import AuthEvent, EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import PASSWORD, CreateUser, bearer, client_for, csrf_headers, login
from tests.support.events import AGENT, FIELDS, HEADERS
from tests.support.tokens import claims, resign

IP = "127.0.0.1"  # ASGITransport's client address


async def logged_in(client: httpx.AsyncClient) -> tuple[str, str]:
    """Log alice in over HTTP; return the access token and the refresh token (cookie)."""
    response = await login(client, headers=HEADERS)
    assert response.status_code == 200, response.text
    refresh = client.cookies.get("refresh_token")
    assert refresh is not None
    return response.json()["access_token"], refresh


async def settled(manager: AuthManager[User], events: CapturingHook) -> list[str]:
    """Wait for the hooks, then return the names of the events delivered."""
    await manager.drain_events()
    return events.names()


async def forget(manager: AuthManager[User], events: CapturingHook) -> None:
    """Deliver the events emitted so far, then forget them."""
    await manager.drain_events()
    events.clear()


def assert_event(event: AuthEvent, **expected: Any) -> None:
    """Assert every field of *event*: those given equal, the others None (or empty)."""
    for name in FIELDS - {"name", "at", "extra"}:
        assert getattr(event, name) == expected.get(name), name
    assert event.extra == expected.get("extra", {})
    assert event.at.tzinfo is not None


async def test_login_emits_login_succeeded_then_token_issued(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """A login reports who logged in from where, then the session and access token issued."""
    access, _ = await logged_in(client)
    assert await settled(manager, events) == ["login.succeeded", "token.issued"]
    uid, token = str(user.id), claims(access)
    assert_event(
        events.last(EventName.LOGIN_SUCCEEDED),
        user_id=uid,
        session_id=token["sid"],  # the session the login started (issue 11)
        client_ip=IP,
        user_agent=AGENT,
        extra={"amr": "pwd"},
    )
    assert_event(
        events.last(EventName.TOKEN_ISSUED),
        user_id=uid,
        session_id=token["sid"],
        token_id=token["jti"],
        client_ip=IP,
        user_agent=AGENT,
    )


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-login"],
)
async def test_failed_login_emits_login_failed_with_reason(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    user: User,
    events: CapturingHook,
    email: str,
    password: str,
) -> None:
    """A refused login emits only `login.failed` (reason, IP, agent), never a token event."""
    response = await login(client, email, password, headers=HEADERS)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert await settled(manager, events) == ["login.failed"]
    assert_event(
        events.last(EventName.LOGIN_FAILED),
        reason="bad_credentials",
        client_ip=IP,
        user_agent=AGENT,
    )


async def test_inactive_user_login_emits_login_failed_with_user_id(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    create_user: CreateUser,
    events: CapturingHook,
) -> None:
    """The right password of an inactive user fails with reason `user_inactive`."""
    user = await create_user(is_active=False)
    assert (await login(client, headers=HEADERS)).status_code == 401
    assert await settled(manager, events) == ["login.failed"]
    assert_event(
        events.last(EventName.LOGIN_FAILED),
        user_id=str(user.id),
        reason="user_inactive",
        client_ip=IP,
        user_agent=AGENT,
    )


async def test_refresh_emits_token_refreshed_with_the_new_refresh_token_id(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """A rotation reports the session and the id of the refresh token that replaced the old."""
    access, _ = await logged_in(client)
    await forget(manager, events)
    response = await client.post("/auth/refresh", headers={**csrf_headers(client), **HEADERS})
    assert response.status_code == 200, response.text
    new_refresh = client.cookies.get("refresh_token")
    assert new_refresh is not None
    assert await settled(manager, events) == ["token.refreshed"]
    assert_event(
        events.last(EventName.TOKEN_REFRESHED),
        user_id=str(user.id),
        session_id=claims(access)["sid"],
        token_id=claims(new_refresh)["jti"],
        client_ip=IP,
        user_agent=AGENT,
    )


async def test_refresh_reuse_emits_reuse_detected_and_rejected(
    make_manager: Callable[..., AuthManager[User]], user: User, events: CapturingHook
) -> None:
    """A rotated refresh token presented again reports the theft and ends the session."""
    manager = make_manager(refresh_token_transport="body", refresh_reuse_grace_seconds=0)
    async with client_for(make_app(manager)) as client:
        first = (await login(client, headers=HEADERS)).json()
        old = first["refresh_token"]
        rotated = await client.post("/auth/refresh", json={"refresh_token": old})
        assert rotated.status_code == 200
        await forget(manager, events)
        reused = await client.post("/auth/refresh", json={"refresh_token": old}, headers=HEADERS)
        assert reused.status_code == 401
        assert reused.json()["reason"] == "reused_refresh"
        newest = rotated.json()["refresh_token"]
        after = await client.post("/auth/refresh", json={"refresh_token": newest})
        assert after.status_code == 401  # the whole session ended
    names = await settled(manager, events)
    assert names[:2] == ["refresh.reuse_detected", "token.rejected"]
    ids = {
        "user_id": str(user.id),
        "session_id": claims(old)["sid"],
        "token_id": claims(old)["jti"],
        "client_ip": IP,
        "user_agent": AGENT,
        "reason": "reused_refresh",
    }
    assert_event(events.of(EventName.REFRESH_REUSE_DETECTED)[0], **ids)
    assert_event(events.of(EventName.TOKEN_REJECTED)[0], **ids)


async def test_refresh_of_an_inactive_users_session_emits_token_rejected(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    user: User,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A refresh refused after the token was consumed (user deactivated) is still reported."""
    _, refresh = await logged_in(client)
    async with session_factory() as db, db.begin():
        (await db.get(User, user.id)).is_active = False  # type: ignore[union-attr]
    await forget(manager, events)
    response = await client.post("/auth/refresh", headers={**csrf_headers(client), **HEADERS})
    assert response.status_code == 401
    assert response.json()["reason"] == "user_inactive"
    assert await settled(manager, events) == ["token.rejected"]
    assert_event(
        events.last(EventName.TOKEN_REJECTED),
        user_id=str(user.id),
        session_id=claims(refresh)["sid"],
        token_id=claims(refresh)["jti"],
        client_ip=IP,
        user_agent=AGENT,
        reason="user_inactive",
    )


@pytest.mark.parametrize(
    ("reason", "forge", "ids_kept"),
    [
        ("expired", lambda t: resign(t, exp=claims(t)["iat"] - 3600), True),
        ("wrong_audience", lambda t: resign(t, aud="someone-else"), True),
        ("signature", lambda t: resign(t, secret="another-secret-" + "x" * 40), False),
        ("malformed", lambda t: t[:20], False),
    ],
)
async def test_refused_access_token_emits_token_rejected_with_reason(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    user: User,
    events: CapturingHook,
    reason: str,
    forge: Callable[[str], str],
    ids_kept: bool,
) -> None:
    """A refused bearer token reports its reason; ids only when the signature held."""
    access, _ = await logged_in(client)
    await forget(manager, events)
    response = await client.get("/me", headers={**bearer(forge(access)), **HEADERS})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert await settled(manager, events) == ["token.rejected"]
    token = claims(access)
    ids = (
        {"user_id": str(user.id), "session_id": token["sid"], "token_id": token["jti"]}
        if ids_kept
        else {}
    )
    assert_event(
        events.last(EventName.TOKEN_REJECTED),
        reason=reason,
        client_ip=IP,
        user_agent=AGENT,
        **ids,
    )


async def test_revoked_token_emits_token_revoked_then_token_rejected(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """`revoke_token` reports the revocation; the next use reports reason `revoked`."""
    access, _ = await logged_in(client)
    await forget(manager, events)
    assert await manager.revoke_token(access) is True
    response = await client.get("/me", headers={**bearer(access), **HEADERS})
    assert response.status_code == 401
    assert await settled(manager, events) == ["token.revoked", "token.rejected"]
    token, uid = claims(access), str(user.id)
    ids = {"user_id": uid, "session_id": token["sid"], "token_id": token["jti"]}
    assert_event(events.last(EventName.TOKEN_REVOKED), reason="revoked", **ids)
    assert_event(
        events.last(EventName.TOKEN_REJECTED),
        reason="revoked",
        client_ip=IP,
        user_agent=AGENT,
        **ids,
    )


async def test_logout_emits_one_logout_event(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    user: User,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """POST /logout reports one `logout` (not `session.revoked` as well) and ends the session."""
    access, _ = await logged_in(client)
    await forget(manager, events)
    response = await client.post("/auth/logout", headers={**bearer(access), **HEADERS})
    assert response.status_code == 200
    assert await settled(manager, events) == ["logout"]
    token = claims(access)
    assert_event(
        events.last(EventName.LOGOUT),
        user_id=str(user.id),
        session_id=token["sid"],
        token_id=token["jti"],
        client_ip=IP,
        user_agent=AGENT,
        reason="logout",
        extra={"revoked": 2},
    )
    async with session_factory() as db:
        row = (await db.execute(select(sessions).where(sessions.c.id == token["sid"]))).one()
    assert row.revoked_at is not None


async def test_logout_all_emits_one_logout_all_event_with_the_count(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """POST /logout-all reports one `logout_all` carrying how many tokens ended."""
    await logged_in(client)
    access, _ = await logged_in(client)
    await forget(manager, events)
    response = await client.post("/auth/logout-all", headers={**bearer(access), **HEADERS})
    assert response.status_code == 200
    assert response.json()["revoked"] == 4
    assert await settled(manager, events) == ["logout_all"]
    token = claims(access)
    assert_event(
        events.last(EventName.LOGOUT_ALL),
        user_id=str(user.id),
        session_id=token["sid"],
        token_id=token["jti"],
        client_ip=IP,
        user_agent=AGENT,
        reason="logout_all",
        extra={"revoked": 4},
    )


async def test_deleting_a_session_emits_session_revoked(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """DELETE /sessions/{id} reports `session.revoked` for that session only."""
    other, _ = await logged_in(client)
    access, _ = await logged_in(client)
    await forget(manager, events)
    sid = claims(other)["sid"]
    response = await client.delete(f"/auth/sessions/{sid}", headers={**bearer(access), **HEADERS})
    assert response.status_code == 204
    assert await settled(manager, events) == ["session.revoked"]
    assert_event(
        events.last(EventName.SESSION_REVOKED),
        user_id=str(user.id),
        session_id=sid,
        reason="session_revoked",
        client_ip=IP,
        user_agent=AGENT,
        extra={"revoked": 2},
    )


async def test_revoke_others_emits_token_revoked_keeping_the_current_session(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """POST /sessions/revoke-others reports `token.revoked` (revoke_all) naming the kept session."""
    await logged_in(client)
    access, _ = await logged_in(client)
    await forget(manager, events)
    response = await client.post("/auth/sessions/revoke-others", headers=bearer(access))
    assert response.status_code == 200
    assert response.json()["revoked"] == 2
    assert await settled(manager, events) == ["token.revoked"]
    assert_event(
        events.last(EventName.TOKEN_REVOKED),
        user_id=str(user.id),
        session_id=claims(access)["sid"],
        reason="revoke_all",
        extra={"revoked": 2},
    )


async def test_login_with_an_outdated_hash_emits_password_rehashed(
    make_manager: Callable[..., AuthManager[User]],
    user: User,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A login whose hash uses an old cost upgrades it and reports `password.rehashed`."""
    stronger = make_manager(bcrypt_rounds=5)
    async with client_for(make_app(stronger)) as client:
        assert (await login(client, headers=HEADERS)).status_code == 200
    names = await settled(stronger, events)
    assert names == ["password.rehashed", "login.succeeded", "token.issued"]
    assert_event(
        events.last(EventName.PASSWORD_REHASHED),
        user_id=str(user.id),
        client_ip=IP,
        user_agent=AGENT,
    )
    async with session_factory() as db:
        stored = (await db.get(User, user.id)).hashed_password  # type: ignore[union-attr]
    assert stored != user.hashed_password
    assert not stronger.password_needs_rehash(stored)


async def test_verify_token_without_a_client_reports_no_address(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """Called from a script (no request), a rejection carries ids but no IP or agent."""
    token = await manager.create_access_token({"sub": str(user.id)})
    await manager.revoke_token(token)
    await forget(manager, events)
    with pytest.raises(Exception, match="revoked"):
        await manager.verify_token(token)
    assert await settled(manager, events) == ["token.rejected"]
    payload = claims(token)
    assert_event(
        events.last(EventName.TOKEN_REJECTED),
        user_id=str(user.id),
        session_id=payload["sid"],
        token_id=payload["jti"],
        reason="revoked",
    )
