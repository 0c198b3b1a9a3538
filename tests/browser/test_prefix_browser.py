"""Swagger UI end to end with a custom prefix: Authorize, sessions, refresh, logout.

The demo is served by uvicorn with `AUTH_ROUTE_PREFIX=/api/v1/auth` and driven in Debian's
Chromium through Playwright, clicking "Try it out" and "Execute" as a person would, with
the bodies Swagger UI fills in by itself. Skipped when the browser is missing, except
under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-prefix-password"
EMAIL = "demo@example.com"
PREFIX = "/api/v1/auth"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _require_browser() -> Any:
    """Return playwright's sync_playwright, or skip (fail under CI) when it cannot run."""
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed (pip install -e '.[test]')"
    if problem is None and not os.access(CHROMIUM, os.X_OK):
        problem = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser test cannot run: {problem}")
        pytest.skip(problem)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo at `/api/v1/auth`, served by uvicorn on a free port and a temp SQLite file."""
    _require_browser()
    port = _free_port()
    db = tmp_path_factory.mktemp("prefix") / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_"))}
    env.update(AUTH_BCRYPT_ROUNDS="4", AUTH_ROUTE_PREFIX=PREFIX)
    command = [sys.executable, "-m", "authmanager.demo", "--port", str(port)]
    command += ["--db", str(db), "--password", PASSWORD]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if server.poll() is not None:
                pytest.fail(f"the demo exited with {server.returncode}")
            try:
                if httpx.get(f"{base}{PREFIX}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the demo did not start within 30 seconds")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile; Swagger UI's CDN files from swagger-ui-py."""
    sync_playwright = _require_browser()
    import swagger_ui

    static = Path(swagger_ui.__file__).parent / "static"
    with sync_playwright() as playwright:
        ctx = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
        )

        def cdn(route: Any) -> None:
            name = route.request.url.rsplit("/", 1)[-1]
            if (static / name).is_file():
                route.fulfill(path=str(static / name))
            else:
                route.fulfill(status=404, body="")

        ctx.route("https://cdn.jsdelivr.net/**", cdn)
        ctx.route("https://fastapi.tiangolo.com/**", lambda route: route.fulfill(status=404))
        try:
            yield ctx
        finally:
            ctx.close()


def _operation(page: Any, operation_id: str, tag: str = "auth") -> Any:
    block = page.locator(f"#operations-{tag}-{operation_id}")
    if block.locator("button.try-out__btn").count() == 0:
        block.locator(".opblock-summary").first.click()
    return block


def _execute(
    page: Any, operation_id: str, *, tag: str = "auth", fill: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Open an operation, "Try it out", fill path parameters, Execute: (status, JSON body)."""
    block = _operation(page, operation_id, tag)
    if block.locator("button.try-out__btn.cancel").count() == 0:
        block.locator("button.try-out__btn").click()
    for name, value in (fill or {}).items():
        block.locator(f'tr[data-param-name="{name}"] input').fill(value)
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    code = int(status.text_content().strip())
    text = block.locator(".live-responses-table tbody .response-col_description pre").first
    body: Any = None
    if code != 204:
        body = json.loads(text.text_content())
    block.locator("button.btn-clear").click()  # forget this answer before the next Execute
    return code, body


def _op(name: str, path: str, method: str) -> str:
    """FastAPI's operation id of an authmanager route under PREFIX."""
    slug = (PREFIX + path).replace("/", "_").replace("-", "_").replace("{", "_").replace("}", "_")
    return f"authmanager_{name}{slug}_{method}"


def test_swagger_with_custom_prefix_authorize_refresh_sessions_logout(
    demo: str, context: Any
) -> None:
    """Authorize, list and end sessions, refresh and log out from /docs at /api/v1/auth."""
    other = httpx.post(f"{demo}{PREFIX}/login", data={"username": EMAIL, "password": PASSWORD})
    assert other.status_code == 200, other.text  # a second session, from another client
    page = context.new_page()
    page.goto(f"{demo}/docs")
    page.click("button.authorize")
    page.fill("#oauth_username", EMAIL)
    page.fill("#oauth_password", PASSWORD)
    page.click(".auth-btn-wrapper button.authorize")
    page.locator(".auth-container", has_text="Authorized").wait_for()  # tokenUrl: 200
    page.click("button.btn-done")
    cookie = {c["name"]: c for c in context.cookies()}["refresh_token"]

    listed_status, listed = _execute(page, _op("sessions", "/sessions", "get"))
    [foreign] = [s["id"] for s in listed if not s["current"]]
    deleted, _ = _execute(
        page,
        _op("revoke_session", "/sessions/{session_id}", "delete"),
        fill={"session_id": foreign},
    )
    refreshed_status, refreshed = _execute(page, _op("refresh", "/refresh", "post"))
    rotated = {c["name"]: c for c in context.cookies()}["refresh_token"]
    me_status, me = _execute(page, "me_me_get", tag="default")
    logout_status, logout = _execute(page, _op("logout", "/logout", "post"))
    after_status, after = _execute(page, "me_me_get", tag="default")

    assert cookie["path"] == PREFIX
    assert listed_status == 200
    assert len(listed) == 2
    assert deleted == 204
    other_token = other.json()["access_token"]
    ended = httpx.get(f"{demo}/me", headers={"Authorization": f"Bearer {other_token}"})
    assert ended.status_code == 401  # the session deleted from Swagger is over
    assert refreshed_status == 200, refreshed
    assert set(refreshed) >= {"access_token", "expires_in", "token_type"}
    assert rotated["value"] != cookie["value"]
    assert (me_status, me) == (200, {"id": 1, "email": EMAIL})
    assert (logout_status, logout) == (200, {"detail": "Logged out."})
    assert "refresh_token" not in {c["name"] for c in context.cookies()}
    assert after_status == 401
    assert after["error"] == "invalid_token"
    assert after["error_description"]
