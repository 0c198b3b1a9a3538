"""Attacks with genuine tokens that must no longer work (RFC 9700 §4.14, ASVS V7.4)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import delete, update

from authmanager import AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import MakeManager, bearer, client_for, csrf_headers, login
from tests.support.attacks import Victim
from tests.support.events import nothing_reported, rejected
from tests.support.rows import snapshot
from tests.support.tokens import parts


async def _refused(
    victim: Victim,
    token: str,
    manager: AuthManager[User],
    events: CapturingHook,
    reason: str,
    session_factory: Any,
) -> None:
    """Present *token* to /me: 401, *reason* reported, and no write to the token tables."""
    before = await snapshot(session_factory)
    response = await victim.client.get("/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    await rejected(manager, events, reason)
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before


async def _quiet(manager: AuthManager[User], events: CapturingHook) -> None:
    await manager.drain_events()
    events.clear()


async def test_revoked_access_token_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """An access token revoked through `revoke_token` is refused at once."""
    assert await manager.revoke_token(victim.access) is True
    await _quiet(manager, events)
    await _refused(victim, victim.access, manager, events, "revoked", session_factory)


async def test_token_of_ended_session_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """An access token whose session was ended from another device is refused."""
    _, claims = parts(victim.access)
    assert await manager.revoke_session(claims["sub"], claims["sid"]) is True
    await _quiet(manager, events)
    await _refused(victim, victim.access, manager, events, "revoked", session_factory)


async def test_token_of_deleted_user_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A live token whose user was deleted from the application is refused."""
    async with session_factory() as db, db.begin():
        await db.execute(delete(User).where(User.id == victim.user.id))
    await _refused(victim, victim.access, manager, events, "user_not_found", session_factory)


async def test_token_of_deactivated_user_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A live token whose user was deactivated is refused."""
    async with session_factory() as db, db.begin():
        await db.execute(update(User).where(User.id == victim.user.id).values(is_active=False))
    await _refused(victim, victim.access, manager, events, "user_inactive", session_factory)


async def test_refresh_for_deleted_user_is_refused_and_rolled_back(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """Refreshing for a deleted user is refused and the refresh token is not consumed."""
    async with session_factory() as db, db.begin():
        await db.execute(delete(User).where(User.id == victim.user.id))
    before = await snapshot(session_factory)
    response = await victim.client.post("/auth/refresh", headers=csrf_headers(victim.client))
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "user_not_found"
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before


async def test_reused_rotated_refresh_token_ends_the_session(
    make_manager: MakeManager, user: User, events: CapturingHook, session_factory: Any
) -> None:
    """A rotated refresh token replayed after the grace period ends the whole session."""
    auth = make_manager(refresh_reuse_grace_seconds=0)
    async with client_for(make_app(auth)) as client:
        assert (await login(client)).status_code == 200
        stolen = client.cookies.get("refresh_token")
        rotated = await client.post("/auth/refresh", headers=csrf_headers(client))
        assert rotated.status_code == 200, rotated.text
        new_access = rotated.json()["access_token"]
        await _quiet(auth, events)
        before = await snapshot(session_factory)
        client.cookies.clear()
        response = await client.post("/auth/refresh", json={"refresh_token": stolen})
        assert response.status_code == 401, response.text
        assert response.json()["reason"] == "reused_refresh"
        await auth.drain_events()
        assert events.last(EventName.REFRESH_REUSE_DETECTED).reason == "reused_refresh"
        assert [e.reason for e in events.of(EventName.TOKEN_REJECTED)] == ["reused_refresh"]
        after = await snapshot(session_factory)
        assert after.revoked_sessions == before.revoked_sessions + 1
        assert after.tokens == before.tokens
        assert (await client.get("/me", headers=bearer(new_access))).status_code == 401


async def test_rotated_refresh_token_within_grace_is_refused_without_ending_session(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A just-rotated refresh token whose successor moved on (a second tab) is refused.

    The session lives on. (While the successor is still unused, the same token gets it
    again instead: the retry of a lost answer, tested in tests/core/test_refresh_retry.py.)
    """
    old = victim.client.cookies.get("refresh_token")
    first = await victim.client.post("/auth/refresh", headers=csrf_headers(victim.client))
    assert first.status_code == 200, first.text
    rotated = await victim.client.post("/auth/refresh", headers=csrf_headers(victim.client))
    assert rotated.status_code == 200, rotated.text
    await _quiet(manager, events)
    before = await snapshot(session_factory)
    cookies = dict(victim.client.cookies)
    victim.client.cookies.clear()
    response = await victim.client.post("/auth/refresh", json={"refresh_token": old})
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "rotated_recently"
    await rejected(manager, events, "rotated_recently")
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before
    victim.client.cookies.update(cookies)
    access = rotated.json()["access_token"]
    assert (await victim.client.get("/me", headers=bearer(access))).status_code == 200


async def test_token_issued_before_logout_all_is_refused(
    victim: Victim,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
    client: Any,
) -> None:
    """A token of another device, issued before logout-everywhere, is refused."""
    other = await login(client)
    assert other.status_code == 200
    out = await client.post("/auth/logout-all", headers=bearer(other.json()["access_token"]))
    assert out.status_code == 200, out.text
    assert out.json()["revoked"] >= 2
    await _quiet(manager, events)
    await _refused(victim, victim.access, manager, events, "revoked", session_factory)


async def test_token_after_password_change_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """`change_password` ends every session: the old access token is refused."""
    assert await manager.change_password(victim.user, "a brand new passphrase 2024") >= 2
    await _quiet(manager, events)
    await _refused(victim, victim.access, manager, events, "revoked", session_factory)


async def test_refresh_after_logout_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """The refresh token of a logged-out session cannot mint anything."""
    refresh = victim.client.cookies.get("refresh_token")
    out = await victim.client.post("/auth/logout", headers=bearer(victim.access))
    assert out.status_code == 200, out.text
    await _quiet(manager, events)
    before = await snapshot(session_factory)
    victim.client.cookies.clear()
    response = await victim.client.post("/auth/refresh", json={"refresh_token": refresh})
    assert response.status_code == 401, response.text
    await manager.drain_events()
    reasons = [e.reason for e in events.of(EventName.TOKEN_REJECTED)]
    assert reasons == [response.json()["reason"]]
    assert reasons[0] in {"revoked", "session_revoked"}
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before


async def test_logout_racing_a_refresh_leaves_no_live_token(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """Logout and a refresh of the same session, at once: nothing of the session survives."""
    client = victim.client
    refresh_call = client.post("/auth/refresh", headers=csrf_headers(client))
    logout_call = client.post("/auth/logout", headers=bearer(victim.access))
    refreshed, out = await asyncio.gather(refresh_call, logout_call)
    assert out.status_code == 200, out.text
    assert refreshed.status_code in {200, 401}, refreshed.text
    await manager.drain_events()
    assert events.of(EventName.LOGOUT)
    survivors = [victim.access]
    if refreshed.status_code == 200:
        survivors.append(refreshed.json()["access_token"])
    else:
        assert [e.reason for e in events.of(EventName.TOKEN_REJECTED)] == [
            refreshed.json()["reason"]
        ]
    for access in survivors:
        assert (await client.get("/me", headers=bearer(access))).status_code == 401
    after = await snapshot(session_factory)
    assert after.sessions == after.revoked_sessions == 1
    client.cookies.clear()
    for cookie in (refreshed.cookies.get("refresh_token"),):
        if cookie:
            again = await client.post("/auth/refresh", json={"refresh_token": cookie})
            assert again.status_code == 401
