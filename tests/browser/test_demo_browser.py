"""The demo in a real browser: Swagger UI's Authorize, and the cookie flow of the HTML page.

Chromium is Debian's (`apt-get install -y chromium`), driven by Playwright. Skipped when
either is missing, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.http import free_port

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-test-password"
EMAIL = "demo@example.com"
DOCS_CLIENT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cookies_2.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo served by uvicorn on a free loopback port, on a temp SQLite file."""
    _require_browser()
    port = free_port()
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_"))}
    env["AUTH_BCRYPT_ROUNDS"] = "4"
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
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
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
    """A headless Chromium with a fresh profile; the Swagger UI CDN served from a local copy."""
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

        # /docs loads Swagger UI from cdn.jsdelivr.net, which this machine cannot reach.
        ctx.route("https://cdn.jsdelivr.net/**", cdn)
        ctx.route("https://fastapi.tiangolo.com/**", lambda route: route.fulfill(status=404))
        try:
            yield ctx
        finally:
            ctx.close()


def _output(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(page.locator("#output").text_content())
    return result


def _click(page: Any, button: str, action: str) -> dict[str, Any]:
    page.click(button)
    page.wait_for_function(
        "action => JSON.parse(document.querySelector('#output').textContent).action === action",
        arg=action,
    )
    result = _output(page)
    page.evaluate("document.querySelector('#output').textContent = '{}'")
    return result


def test_swagger_authorize_then_call_me(demo: str, context: Any) -> None:
    """Authorize in Swagger UI with the demo user, then Execute GET /me: 200 with the email."""
    page = context.new_page()
    page.goto(f"{demo}/docs")
    page.click("button.authorize")
    page.fill("#oauth_username", EMAIL)
    page.fill("#oauth_password", PASSWORD)
    page.click(".auth-btn-wrapper button.authorize")
    page.locator(".auth-container", has_text="Authorized").wait_for()  # /auth/login: 200
    page.click("button.btn-done")
    page.click('.opblock-summary-path[data-path="/me"]')
    page.click("button.try-out__btn")
    page.click("button.execute")
    status = page.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    body = page.locator(".live-responses-table tbody .response-col_description pre").first
    assert status.text_content().strip() == "200"
    assert json.loads(body.text_content()) == {"id": 1, "email": EMAIL}


def test_demo_page_cookie_flow(demo: str, context: Any) -> None:
    """Log in, refresh and log out from the page: the refresh cookie is HttpOnly, then gone."""
    page = context.new_page()
    page.goto(f"{demo}/")
    page.fill("#password", PASSWORD)
    login = _click(page, "#login", "login")
    cookies = {c["name"]: c for c in context.cookies()}
    script_sees = page.evaluate("document.cookie")
    me = _click(page, "#me", "me")
    old_refresh = cookies["refresh_token"]["value"]
    refreshed = _click(page, "#refresh", "refresh")
    rotated = {c["name"]: c["value"] for c in context.cookies()}["refresh_token"]
    logout = _click(page, "#logout", "logout")
    after = _click(page, "#me", "me")
    assert login["status"] == 200
    assert "refresh_token" not in login["body"]
    assert cookies["refresh_token"]["httpOnly"] is True
    assert cookies["refresh_token"]["sameSite"] == "Strict"
    assert "refresh_token" not in script_sees
    assert "csrf_token=" in script_sees  # the double-submit cookie is readable on purpose
    assert (me["status"], me["body"]) == (200, {"id": 1, "email": EMAIL})
    assert refreshed["status"] == 200
    assert rotated != old_refresh
    assert logout["status"] == 200
    assert "refresh_token" not in {c["name"] for c in context.cookies()}
    assert after["status"] == 401


def test_docs_cookie_client_in_browser(demo: str, context: Any) -> None:
    """The cookie guide's JavaScript client logs in, refreshes, calls /me and logs out."""
    page = context.new_page()
    page.goto(f"{demo}/openapi.json")  # a same-origin document without scripts of its own
    page.add_script_tag(path=str(DOCS_CLIENT))
    results = page.evaluate(
        """async ([email, password]) => {
            const out = {};
            out.login = await login(email, password);
            out.refresh = await refresh();
            out.me = await api("/me");
            const token = accessToken;
            out.logout = await logout();
            const after = await fetch("/me", {headers: {Authorization: `Bearer ${token}`}});
            out.after = after.status;
            return out;
        }""",
        [EMAIL, PASSWORD],
    )
    assert results == {
        "login": 200,
        "refresh": 200,
        "me": {"status": 200, "body": {"id": 1, "email": EMAIL}},
        "logout": 200,
        "after": 401,
    }
    assert "refresh_token" not in {c["name"] for c in context.cookies()}
