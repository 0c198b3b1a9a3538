"""WebSockets: `auth.websocket_user` over Starlette's TestClient (sync tests, own loop)."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI, WebSocket
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect

from authmanager import AuthManager, metadata
from authmanager.testing import CapturingHook, test_settings
from tests.app import Base, User, Users, make_app
from tests.conftest import PASSWORD
from tests.support.dpop import DPoPKey

with warnings.catch_warnings():
    # Starlette asks for the `httpx2` fork for its TestClient; plain httpx still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

EMAIL = "ws@example.com"


@pytest.fixture
def ws_app(database: str) -> Iterator[tuple[FastAPI, CapturingHook]]:
    """An app whose engine has no pool, so the TestClient's own event loop can use it."""
    engine = create_async_engine(database, poolclass=NullPool)
    events = CapturingHook()
    auth = AuthManager(
        settings=test_settings(
            refresh_token_transport="body",
            websocket_recheck_seconds=0.05,
            websocket_auth_timeout_seconds=0.5,
        ),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
        hooks=[events],
    )

    async def setup() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(Base.metadata.create_all)
            hashed = auth.hash_password(PASSWORD)
            await conn.execute(User.__table__.insert().values(email=EMAIL, hashed_password=hashed))

    async def teardown() -> None:
        async with engine.begin() as conn:
            for table in [*reversed(metadata.sorted_tables), *Base.metadata.sorted_tables]:
                await conn.execute(delete(table))
        await engine.dispose()

    asyncio.run(setup())
    app = make_app(auth)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: User = Depends(auth.websocket_user)) -> None:
        await websocket.send_json({"hello": user.email, "sid": websocket.state.token_payload.sid})
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    try:
        yield app, events
    finally:
        asyncio.run(teardown())


def _login(tc: TestClient, **headers: str) -> dict[str, Any]:
    response = tc.post(
        "/auth/login", data={"username": EMAIL, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _closed_with(ws: Any) -> WebSocketDisconnect:
    with pytest.raises(WebSocketDisconnect) as caught:
        ws.receive_text()
    return caught.value


def test_websocket_closed_4001_after_logout_all(ws_app: tuple[FastAPI, CapturingHook]) -> None:
    """A socket authenticated by subprotocol is closed with 4001 once logout-all runs."""
    app, _ = ws_app
    with TestClient(app, base_url="https://testserver") as tc:
        token = _login(tc)["access_token"]
        with tc.websocket_connect("/ws", subprotocols=["chat", f"bearer.{token}"]) as ws:
            assert ws.accepted_subprotocol == "chat"
            assert ws.receive_json()["hello"] == EMAIL
            ws.send_text("ping")
            assert ws.receive_text() == "ping"
            out = tc.post("/auth/logout-all", headers={"Authorization": f"Bearer {token}"})
            assert out.status_code == 200
            closed = _closed_with(ws)
            assert closed.code == 4001
            assert closed.reason == "The session has ended."


def test_websocket_first_message_auth(ws_app: tuple[FastAPI, CapturingHook]) -> None:
    """Without a bearer subprotocol the first message carries the token."""
    app, _ = ws_app
    with TestClient(app, base_url="https://testserver") as tc:
        body = _login(tc)
        with tc.websocket_connect("/ws") as ws:
            assert ws.accepted_subprotocol is None
            ws.send_text(json.dumps({"type": "auth", "token": body["access_token"]}))
            hello = ws.receive_json()
            assert hello["hello"] == EMAIL
            out = tc.post(
                "/auth/logout", headers={"Authorization": f"Bearer {body['access_token']}"}
            )
            assert out.status_code == 200
            assert _closed_with(ws).code == 4001


@pytest.mark.parametrize(
    "first",
    [
        json.dumps({"type": "auth", "token": "not.a.jwt"}),
        json.dumps({"type": "hello"}),
        "plain text",
    ],
    ids=["bad-token", "wrong-type", "not-json"],
)
def test_websocket_bad_first_message_closes_1008(
    ws_app: tuple[FastAPI, CapturingHook], first: str
) -> None:
    """A bad token or a malformed auth message closes the socket with 1008."""
    app, _ = ws_app
    with TestClient(app, base_url="https://testserver") as tc, tc.websocket_connect("/ws") as ws:
        ws.send_text(first)
        assert _closed_with(ws).code == 1008


def test_websocket_bad_subprotocol_token_closes_1008(
    ws_app: tuple[FastAPI, CapturingHook],
) -> None:
    """A forged token in the subprotocol closes the socket with 1008, reported as rejected."""
    app, events = ws_app
    with (
        TestClient(app, base_url="https://testserver") as tc,
        tc.websocket_connect("/ws", subprotocols=["bearer.a.b.c"]) as ws,
    ):
        closed = _closed_with(ws)
        assert closed.code == 1008
        assert closed.reason == "malformed"
    assert "token.rejected" in events.names()


def test_websocket_ignores_token_in_query_string(ws_app: tuple[FastAPI, CapturingHook]) -> None:
    """A token in the query string is never read: with no auth message, the socket closes 1008."""
    app, _ = ws_app
    with TestClient(app, base_url="https://testserver") as tc:
        token = _login(tc)["access_token"]
        with tc.websocket_connect(f"/ws?token={token}&access_token={token}") as ws:
            closed = _closed_with(ws)
            assert closed.code == 1008
            assert closed.reason == "No auth message was sent in time."


def test_websocket_refuses_dpop_bound_token(ws_app: tuple[FastAPI, CapturingHook]) -> None:
    """A DPoP-bound token cannot open a WebSocket (no proof is possible there): 1008."""
    app, _ = ws_app
    key = DPoPKey()
    with TestClient(app, base_url="https://testserver") as tc:
        body = _login(tc, DPoP=key.proof("POST", "/auth/login"))
        assert body["token_type"] == "DPoP"
        with tc.websocket_connect("/ws", subprotocols=[f"bearer.{body['access_token']}"]) as ws:
            closed = _closed_with(ws)
            assert closed.code == 1008
            assert closed.reason == "dpop"
