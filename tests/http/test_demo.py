"""The demo application: in process on every database, and served by uvicorn over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from authmanager.demo import DEMO_EMAIL, create_app
from tests.conftest import client_for
from tests.support.http import bearer, free_port, set_cookies

DEMO_PASSWORD = "demo password for tests"
PAGE_IDS = ("username", "password", "login", "me", "refresh", "logout", "output")


@pytest.fixture
async def demo(database: str) -> AsyncIterator[httpx.AsyncClient]:
    """The demo app on the test database, started (tables, demo user)."""
    app = create_app(database, password=DEMO_PASSWORD)
    async with LifespanManager(app), client_for(app) as client:
        yield client


async def test_demo_app_login_me_refresh_logout(demo: httpx.AsyncClient) -> None:
    """The demo's user logs in, calls /me, refreshes with the cookie and logs out."""
    login = await demo.post("/auth/login", data={"username": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert login.status_code == 200
    cookie = set_cookies(login)["refresh_token"]
    assert "secure" not in cookie.flags  # plain-http demo, AUTH_COOKIE_SECURE unset
    assert "httponly" in cookie.flags
    access = login.json()["access_token"]
    me = await demo.get("/me", headers=bearer(access))
    assert me.json()["email"] == DEMO_EMAIL
    refreshed = await demo.post(
        "/auth/refresh", headers={"X-CSRF-Token": demo.cookies["csrf_token"]}
    )
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access_token"]
    assert (await demo.post("/auth/logout", headers=bearer(new_access))).status_code == 200
    for token in (access, new_access):
        assert (await demo.get("/me", headers=bearer(token))).status_code == 401


async def test_demo_serves_page_and_docs(demo: httpx.AsyncClient) -> None:
    """`/` is the test page with its stable ids, `/docs` the Swagger UI with the scheme."""
    page = await demo.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for element in PAGE_IDS:
        assert f'id="{element}"' in page.text
    assert 'credentials: "same-origin"' in page.text
    assert '"/auth/refresh"' in page.text
    assert (await demo.get("/docs")).status_code == 200
    schema = (await demo.get("/openapi.json")).json()
    [scheme] = schema["components"]["securitySchemes"].values()
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/login"


async def test_demo_secure_cookie_when_asked(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With AUTH_COOKIE_SECURE=true the demo marks its cookies Secure again."""
    monkeypatch.setenv("AUTH_COOKIE_SECURE", "true")
    app = create_app(database, password=DEMO_PASSWORD)
    async with LifespanManager(app), client_for(app) as client:
        login = await client.post(
            "/auth/login", data={"username": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
        assert "secure" in set_cookies(login)["refresh_token"].flags


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """`python -m authmanager.demo` on a free loopback port; yields its URL and output."""
    port = free_port()
    log = tmp_path / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_"))}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "authmanager.demo",
                "--port",
                str(port),
                "--db",
                str(tmp_path / "demo.db"),
                "--password",
                DEMO_PASSWORD,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/docs").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not start: " + log.read_text()
            time.sleep(0.2)
        yield url, log.read_text().splitlines()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def test_demo_over_real_http(demo_server: tuple[str, list[str]]) -> None:
    """Served by uvicorn: log in, /me, refresh with the cookie, log out, old token refused."""
    url, output = demo_server
    assert f"  login:     {DEMO_EMAIL}" in output
    assert f"  password:  {DEMO_PASSWORD}" in output
    assert any("not marked Secure" in line for line in output)
    async with httpx.AsyncClient(base_url=url) as client:
        login = await client.post(
            "/auth/login", data={"username": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
        assert login.status_code == 200
        access = login.json()["access_token"]
        assert (await client.get("/me", headers=bearer(access))).json()["email"] == DEMO_EMAIL
        old_refresh = client.cookies["refresh_token"]
        refreshed = await client.post(
            "/auth/refresh", headers={"X-CSRF-Token": client.cookies["csrf_token"]}
        )
        assert refreshed.status_code == 200
        assert client.cookies["refresh_token"] != old_refresh
        new_access = refreshed.json()["access_token"]
        logout = await client.post("/auth/logout", headers=bearer(new_access))
        assert logout.status_code == 200
        assert "refresh_token" not in client.cookies
        for token in (access, new_access):
            refused = await client.get("/me", headers=bearer(token))
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
        assert (
            await client.post("/auth/refresh", json={"refresh_token": old_refresh})
        ).status_code == 401
