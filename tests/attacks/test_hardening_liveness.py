"""Issue 11, item 2: a deactivated or deleted user keeps no access, on any path.

In 0.1 only the paths that load the user (`current_user`, refresh) refused one; the
payload dependencies (`token_data`, `require_scopes`, `token_validator`), the session
routes and an open WebSocket served them until the access token (or the session)
expired. Now `deactivate_user` marks the user's state, which the one per-request query
already reads, and a user the loader reports inactive or missing is refused wherever
the user is loaded (the session routes and the WebSocket watch included).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.websockets import WebSocketDisconnect

from authmanager import AuthManager
from authmanager._core.models import sessions, tokens
from authmanager._services.revocation import RevocationService
from authmanager.apikeys import ApiKeyService, ApiKeyStore, KeyFormat
from authmanager.apikeys.tables import api_keys
from authmanager.exceptions import RevokedTokenError
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.attacks.hardening import statements, websocket
from tests.conftest import (
    PASSWORD,
    CreateUser,
    MakeManager,
    bearer,
    client_for,
    csrf_headers,
    login,
)
from tests.support.rows import snapshot

PROTECTED = [
    pytest.param("GET", "/me", id="current_user"),
    pytest.param("GET", "/claims", id="token_data"),
    pytest.param("GET", "/admin", id="require_scopes"),
    pytest.param("GET", "/validated", id="token_validator"),
    pytest.param("GET", "/auth/sessions", id="list-sessions"),
    pytest.param("POST", "/auth/sessions/revoke-others", id="revoke-others"),
    pytest.param("DELETE", "/auth/sessions/no-such-session", id="revoke-session"),
]


async def _set_active(factory: async_sessionmaker[AsyncSession], user: User, active: bool) -> None:
    async with factory() as db, db.begin():
        await db.execute(update(User).where(User.id == user.id).values(is_active=active))


async def _delete(factory: async_sessionmaker[AsyncSession], user: User) -> None:
    async with factory() as db, db.begin():
        await db.execute(delete(User).where(User.id == user.id))


@pytest.fixture
async def admin(create_user: CreateUser) -> User:
    """An administrator: every protected route of the test app serves her."""
    return await create_user("root@example.com", role="admin")


@pytest.fixture
async def signed_in(client: httpx.AsyncClient, admin: User) -> str:
    response = await login(client, "root@example.com")
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _request(client: httpx.AsyncClient, method: str, path: str, token: str) -> httpx.Response:
    return await client.request(method, path, headers=bearer(token))


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_deactivated_user_is_refused_on_every_dependency_and_route(
    client: httpx.AsyncClient,
    manager: AuthManager[User],
    admin: User,
    signed_in: str,
    events: CapturingHook,
    method: str,
    path: str,
) -> None:
    """After `deactivate_user`, every path answers 401 at once, the loader's flag unchanged."""
    before = await _request(client, method, path, signed_in)
    assert before.status_code in {200, 404}, before.text
    revoked = await manager.deactivate_user(str(admin.id))
    assert revoked == 2  # the access and refresh tokens of the one session
    response = await _request(client, method, path, signed_in)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    await manager.drain_events()
    deactivated = events.last(EventName.USER_DEACTIVATED)
    assert (deactivated.user_id, deactivated.reason) == (str(admin.id), "user_deactivated")
    assert deactivated.extra == {"revoked": 2}
    assert events.last(EventName.TOKEN_REJECTED).user_id == str(admin.id)


async def test_deactivated_user_cannot_refresh_or_step_up(
    client: httpx.AsyncClient, manager: AuthManager[User], admin: User, signed_in: str
) -> None:
    """Refresh and `/fresh` refuse the session of a deactivated user too."""
    await manager.deactivate_user(str(admin.id))
    refresh = await client.post("/auth/refresh", headers=csrf_headers(client))
    assert refresh.status_code == 401, refresh.text
    fresh = await client.post("/auth/fresh", data={"password": PASSWORD}, headers=bearer(signed_in))
    assert fresh.status_code == 401, fresh.text


async def test_deactivation_ends_a_login_that_raced_with_it(
    manager: AuthManager[User], admin: User, session_factory: Any
) -> None:
    """A session created before the mark but committed after it is refused as well."""
    pair = await manager.create_token_pair({"sub": str(admin.id)})
    # The racing login's rows, as if its transaction began before the deactivation.
    async with session_factory() as db, db.begin():
        await manager.deactivate_user(str(admin.id), session=db)
        await db.execute(
            update(tokens).where(tokens.c.session_id == pair.session_id).values(revoked_at=None)
        )
        await db.execute(
            update(sessions).where(sessions.c.id == pair.session_id).values(revoked_at=None)
        )
    with pytest.raises(RevokedTokenError) as refused:
        await manager.verify_token(pair.access_token)
    assert refused.value.reason == "session_revoked"


async def test_per_request_check_stays_one_statement_after_deactivation(
    make_manager: MakeManager, admin: User, engine: AsyncEngine
) -> None:
    """The mark costs no query: verifying a token is one SELECT, before and after.

    (State cache off, so that every verification reaches the database.)
    """
    manager = make_manager(state_cache="off")
    pair = await manager.create_token_pair({"sub": str(admin.id)})
    await manager.verify_token(pair.access_token)  # warm the pool
    with statements(engine) as seen:
        await manager.verify_token(pair.access_token)
    assert [s.split()[0].upper() for s in seen] == ["SELECT"]
    other = await manager.create_token_pair({"sub": "someone-else"})
    await manager.deactivate_user("someone-else")
    with statements(engine) as seen, pytest.raises(RevokedTokenError):
        await manager.verify_token(other.access_token)
    assert [s.split()[0].upper() for s in seen] == ["SELECT"]


async def test_deactivation_reaches_cached_states_at_once(
    manager: AuthManager[User], admin: User
) -> None:
    """With the state cache (the default), a cached live state is dropped by the mark."""
    pair = await manager.create_token_pair({"sub": str(admin.id)})
    await manager.verify_token(pair.access_token)
    await manager.verify_token(pair.access_token)  # from the cache
    await manager.deactivate_user(str(admin.id))
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)


async def test_user_may_sign_in_again_after_reactivation(
    client: httpx.AsyncClient,
    manager: AuthManager[User],
    admin: User,
    signed_in: str,
    session_factory: Any,
) -> None:
    """The mark ends what existed; once the application lets the user in again, so do we."""
    await _set_active(session_factory, admin, False)
    await manager.deactivate_user(str(admin.id))
    assert (await login(client, "root@example.com")).status_code == 401
    await _set_active(session_factory, admin, True)
    again = await login(client, "root@example.com")
    assert again.status_code == 200, again.text
    assert (
        await client.get("/claims", headers=bearer(again.json()["access_token"]))
    ).status_code == 200


@pytest.mark.parametrize("change", ["inactive", "deleted"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/auth/sessions", id="list-sessions"),
        pytest.param("POST", "/auth/sessions/revoke-others", id="revoke-others"),
        pytest.param("DELETE", "/auth/sessions/no-such-session", id="revoke-session"),
    ],
)
async def test_session_routes_refuse_a_user_the_loader_reports_gone(
    client: httpx.AsyncClient,
    manager: AuthManager[User],
    admin: User,
    signed_in: str,
    session_factory: Any,
    events: CapturingHook,
    change: str,
    method: str,
    path: str,
) -> None:
    """Without `deactivate_user`, the library's session routes still load the user: 401."""
    before = await snapshot(session_factory)
    if change == "inactive":
        await _set_active(session_factory, admin, False)
    else:
        await _delete(session_factory, admin)
    response = await _request(client, method, path, signed_in)
    assert response.status_code == 401, response.text
    reason = "user_inactive" if change == "inactive" else "user_not_found"
    assert response.json()["reason"] == reason
    assert await snapshot(session_factory) == before  # revoke-others ended nothing
    await manager.drain_events()
    assert events.last(EventName.TOKEN_REJECTED).reason == reason


@pytest.fixture
def ws_app(make_manager: MakeManager) -> tuple[FastAPI, AuthManager[User]]:
    """The test app with a WebSocket echo, its watch checking every 50 ms."""
    auth = make_manager(refresh_token_transport="body", websocket_recheck_seconds=0.05)
    app = make_app(auth)

    @app.websocket("/ws")
    async def ws(sock: WebSocket, user: User = Depends(auth.websocket_user)) -> None:
        await sock.send_json({"hello": user.email})
        try:
            while True:
                await sock.send_text(await sock.receive_text())
        except WebSocketDisconnect:
            pass

    return app, auth


@pytest.mark.parametrize("how", ["deactivate_user", "loader-inactive", "loader-deleted"])
async def test_open_websocket_is_closed_when_its_user_is_deactivated(
    ws_app: tuple[FastAPI, AuthManager[User]],
    admin: User,
    session_factory: Any,
    how: str,
) -> None:
    """The watch applies the same rule: 4001 at its next check, not at the session's end."""
    app, auth = ws_app
    async with client_for(app) as c:
        token = (await login(c, "root@example.com")).json()["access_token"]
    async with websocket(app, "/ws", subprotocols=[f"bearer.{token}"]) as (sock, first):
        assert first["type"] == "websocket.accept"
        assert json.loads((await sock.receive())["text"]) == {"hello": "root@example.com"}
        if how == "deactivate_user":
            await auth.deactivate_user(str(admin.id))
        elif how == "loader-inactive":
            await _set_active(session_factory, admin, False)
        else:
            await _delete(session_factory, admin)
        closed = await sock.receive()
        assert closed["type"] == "websocket.close", closed
        assert closed["code"] == 4001


async def test_deactivation_seam_ends_api_keys_in_the_same_transaction(
    manager: AuthManager[User], admin: User, session_factory: Any, events: CapturingHook
) -> None:
    """`RevocationService(user_revokers=[ApiKeyService])`: sessions and keys end together."""
    database = manager._store.database
    keys = ApiKeyService(
        database=database,
        store=ApiKeyStore(),
        key_format=KeyFormat(manager.settings.api_key_prefix),
        events=manager._events,
        settings=manager.settings,
    )
    revocations = RevocationService(
        codec=manager._codec,
        store=manager._store,
        database=database,
        events=manager._events,
        user_revokers=[keys],
    )
    uid = str(admin.id)
    pair = await manager.create_token_pair({"sub": uid})
    await keys.create_api_key(uid, name="ci")
    assert await revocations.deactivate_user(uid) == 3  # two tokens and one key
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)
    async with session_factory() as db:
        reasons = (await db.execute(select(api_keys.c.revoke_reason))).scalars().all()
    assert reasons == ["user_deactivated"]
    await manager.drain_events()
    assert events.last(EventName.USER_DEACTIVATED).extra == {"revoked": 3}
