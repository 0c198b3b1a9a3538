"""The binding guides' examples (docs/examples/{fresh,device,dpop,websockets}_*.py) run."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import PASSWORD, bearer, client_for
from tests.support.docs import Load, import_example, reader_environment

EMAIL = "ada@example.com"


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Load:
    """Import an example as a reader would run it, on a temporary SQLite database."""
    reader_environment(monkeypatch, tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    monkeypatch.delitem(sys.modules, "app_models", raising=False)

    def loader(name: str) -> ModuleType:
        return import_example(name, "binding_example")

    return loader


async def _setup(mod: ModuleType) -> None:
    from app_models import Base, User

    async with mod.engine.begin() as conn:
        await conn.run_sync(mod.auth.metadata.create_all)
        await conn.run_sync(Base.metadata.create_all)
    async with mod.sessions() as db, db.begin():
        db.add(User(email=EMAIL, hashed_password=mod.auth.hash_password(PASSWORD)))


def _form() -> dict[str, str]:
    return {"username": EMAIL, "password": PASSWORD}


async def test_fresh_example_guards_delete_with_fresh_login(load: Load) -> None:
    """fresh_1: the login token deletes; a refreshed one is 401 until /auth/fresh."""
    mod = load("fresh_1")
    await _setup(mod)
    async with client_for(mod.app) as c:
        token = (await c.post("/auth/login", data=_form())).json()["access_token"]
        assert (await c.post("/account/delete", headers=bearer(token))).status_code == 200
        csrf = {"X-CSRF-Token": c.cookies.get("csrf_token") or ""}
        stale = (await c.post("/auth/refresh", headers=csrf)).json()["access_token"]
        assert (await c.get("/profile", headers=bearer(stale))).status_code == 200
        assert (await c.post("/account/delete", headers=bearer(stale))).status_code == 401
        fresh = await c.post("/auth/fresh", data={"password": PASSWORD}, headers=bearer(stale))
        token = fresh.json()["access_token"]
        assert (await c.post("/account/delete", headers=bearer(token))).status_code == 200
    await mod.engine.dispose()


async def test_device_example_binds_device_and_network(load: Load) -> None:
    """device_1: another device id is refused; the right one passes."""
    mod = load("device_1")
    await _setup(mod)
    async with client_for(mod.app) as c:
        body = (await c.post("/auth/login", data=_form(), headers={"X-Device-Id": "d1"})).json()
        token = body["access_token"]
        ok = await c.get("/me", headers={**bearer(token), "X-Device-Id": "d1"})
        assert ok.status_code == 200
        other = await c.get("/me", headers={**bearer(token), "X-Device-Id": "d2"})
        assert other.status_code == 401
    await mod.auth.drain_events()
    await mod.engine.dispose()


async def test_dpop_example_client_flow(load: Load) -> None:
    """dpop_1: main() runs the client against the app and ends with a bound 200."""
    mod = load("dpop_1")
    assert await mod.main() == {
        "token_type": "DPoP",
        "status": 200,
        "user": EMAIL,
        "orders": [],
    }
    await mod.engine.dispose()


def test_websockets_example_closes_on_logout(load: Load, monkeypatch: pytest.MonkeyPatch) -> None:
    """websockets_1: the chat socket authenticates by subprotocol and closes 4001 on logout."""
    import asyncio

    from starlette.exceptions import StarletteDeprecationWarning
    from starlette.websockets import WebSocketDisconnect

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

    monkeypatch.setenv("AUTH_WEBSOCKET_RECHECK_SECONDS", "0.05")
    mod = load("websockets_1")

    async def setup() -> None:
        await _setup(mod)
        await mod.engine.dispose()  # the TestClient's own event loop opens new connections

    asyncio.run(setup())
    with TestClient(mod.app, base_url="https://testserver") as tc:
        token = tc.post("/auth/login", data=_form()).json()["access_token"]
        with tc.websocket_connect("/ws/chat", subprotocols=["chat", f"bearer.{token}"]) as ws:
            assert ws.receive_json() == {"hello": EMAIL}
            ws.send_text("hi")
            assert ws.receive_json() == {"from": EMAIL, "text": "hi"}
            assert tc.post("/auth/logout-all", headers=bearer(token)).status_code == 200
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 4001
    asyncio.run(mod.engine.dispose())
