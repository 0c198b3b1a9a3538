"""Issue 11, item 1: login CSRF through `/refresh`, and every cross-site route it stands for.

Every route that signs someone in, or sets or reads the refresh cookie, refuses a
request from another site whatever carries its token (cookie, JSON, form). The matrix:
each such route x each carrier x same-origin, cross-site, `null` and missing Origin.
In 0.1 `/refresh` skipped the check when the token came in the body: a cross-site form
posting the *attacker's* refresh token got a 200 that set the attacker's cookies in
the victim's browser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from authmanager import AuthManager, install_exception_handlers
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import PASSWORD, CreateUser, bearer, client_for, csrf_headers, login
from tests.support.events import nothing_reported
from tests.support.rows import snapshot

SAME_ORIGIN = {"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"}
ORIGINS = [
    pytest.param(SAME_ORIGIN, True, id="same-origin"),
    pytest.param(
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, False, id="cross-site"
    ),
    pytest.param({"Origin": "null"}, False, id="null-origin"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, False, id="missing-origin-cross-site"),
    pytest.param({}, True, id="missing-origin-no-browser"),
]


@dataclass
class World:
    """Alice (the victim, logged in with the cookie) and Mallory (the attacker)."""

    app: FastAPI
    alice: httpx.AsyncClient
    alice_access: str
    mallory_refresh: str
    manager: AuthManager[User]
    events: CapturingHook
    factory: Any

    def stranger(self) -> httpx.AsyncClient:
        """A browser without the victim's cookie (SameSite keeps it off cross-site posts)."""
        return client_for(self.app)


@pytest.fixture
async def world(
    manager: AuthManager[User],
    create_user: CreateUser,
    events: CapturingHook,
    session_factory: Any,
) -> AsyncIterator[World]:
    await create_user("alice@example.com")
    await create_user("mallory@example.com")
    app = make_app(manager)
    install_exception_handlers(app)  # the application's own route answers as ours do

    @app.post("/auth/cookie-echo")
    async def cookie_echo(
        token: str = Depends(manager.refresh_token_from_cookie),
    ) -> dict[str, int]:
        return {"length": len(token)}

    async with client_for(app) as alice, client_for(app) as mallory:
        response = await login(alice)
        assert response.status_code == 200, response.text
        assert (await login(mallory, "mallory@example.com")).status_code == 200
        await manager.drain_events()
        events.clear()
        yield World(
            app=app,
            alice=alice,
            alice_access=response.json()["access_token"],
            mallory_refresh=mallory.cookies["refresh_token"],
            manager=manager,
            events=events,
            factory=session_factory,
        )


Send = Callable[[World, dict[str, str]], Awaitable[httpx.Response]]


async def _refresh_cookie(w: World, headers: dict[str, str]) -> httpx.Response:
    return await w.alice.post("/auth/refresh", headers={**csrf_headers(w.alice), **headers})


async def _refresh_json(w: World, headers: dict[str, str]) -> httpx.Response:
    async with w.stranger() as browser:
        return await browser.post(
            "/auth/refresh", json={"refresh_token": w.mallory_refresh}, headers=headers
        )


async def _refresh_form(w: World, headers: dict[str, str]) -> httpx.Response:
    async with w.stranger() as browser:
        form = {"grant_type": "refresh_token", "refresh_token": w.mallory_refresh}
        return await browser.post("/auth/refresh", data=form, headers=headers)


async def _login_form(w: World, headers: dict[str, str]) -> httpx.Response:
    async with w.stranger() as browser:
        return await login(browser, "mallory@example.com", headers=headers)


async def _logout(w: World, headers: dict[str, str]) -> httpx.Response:
    return await w.alice.post("/auth/logout", headers={**bearer(w.alice_access), **headers})


async def _logout_all(w: World, headers: dict[str, str]) -> httpx.Response:
    return await w.alice.post("/auth/logout-all", headers={**bearer(w.alice_access), **headers})


async def _fresh(w: World, headers: dict[str, str]) -> httpx.Response:
    return await w.alice.post(
        "/auth/fresh", data={"password": PASSWORD}, headers={**bearer(w.alice_access), **headers}
    )


async def _cookie_dependency(w: World, headers: dict[str, str]) -> httpx.Response:
    return await w.alice.post("/auth/cookie-echo", headers=headers)


ROUTES = [
    pytest.param(_refresh_cookie, True, id="refresh-cookie"),
    pytest.param(_refresh_json, True, id="refresh-json"),
    pytest.param(_refresh_form, True, id="refresh-form"),
    pytest.param(_login_form, True, id="login-form"),
    pytest.param(_logout, True, id="logout-bearer"),
    pytest.param(_logout_all, True, id="logout-all-bearer"),
    pytest.param(_fresh, False, id="fresh-bearer-form"),
    pytest.param(_cookie_dependency, False, id="refresh_token_from_cookie"),
]


@pytest.mark.parametrize(("headers", "allowed"), ORIGINS)
@pytest.mark.parametrize(("send", "sets_cookies"), ROUTES)
async def test_cross_site_requests_to_cookie_and_sign_in_routes_are_refused(
    world: World, send: Send, sets_cookies: bool, headers: dict[str, str], allowed: bool
) -> None:
    """Refused from another site (403 `csrf`, nothing set or changed), served otherwise."""
    before = await snapshot(world.factory)
    response = await send(world, headers)
    await world.manager.drain_events()
    if allowed:
        assert response.status_code == 200, response.text
        assert ("set-cookie" in response.headers) is sets_cookies
        assert world.events.of(EventName.TOKEN_REJECTED) == []
        return
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "access_denied"
    assert response.json()["reason"] == "csrf"
    assert "set-cookie" not in response.headers
    assert await snapshot(world.factory) == before
    assert [e.reason for e in world.events.of(EventName.TOKEN_REJECTED)] == ["csrf"]
    await nothing_reported(world.manager, world.events)


async def test_login_csrf_with_the_attackers_body_token_sets_no_cookie(world: World) -> None:
    """The reported attack: a cross-site JSON post of Mallory's refresh token signs no one in."""
    async with world.stranger() as browser:
        response = await browser.post(
            "/auth/refresh",
            json={"refresh_token": world.mallory_refresh},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert response.status_code == 403, response.text
        assert "set-cookie" not in response.headers
        assert browser.cookies.get("refresh_token") is None
        assert browser.cookies.get("csrf_token") is None
    # Mallory's token was not consumed: the refusal came before anything was read.
    async with world.stranger() as mallory:
        again = await mallory.post("/auth/refresh", json={"refresh_token": world.mallory_refresh})
        assert again.status_code == 200, again.text
