"""Sign in to the demo with a provider in a real browser, through the provider's own pages.

The provider is the test suite's panva oidc-provider (`tests/oidc`), the demo is
`python -m authmanager.demo` pointed at it by settings alone (`AUTH_OIDC_PROVIDERS`,
`AUTH_OIDC_REDIRECT_BASE_URL`). The demo is browsed at `localhost` and the provider at
`127.0.0.1`: two sites, so the provider's redirect back is a cross-site navigation, as
in production (the flow cookie must be `SameSite=Lax` to come along).

Chromium is Debian's, driven by Playwright. Skipped when the browser or Node.js is
missing, except under CI=true, where that is a failure.
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

from tests.oidc.launcher import ensure_installed, free_port, running_provider

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _require(problem: str | None) -> None:
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the browser test cannot run: {problem}")
    pytest.skip(problem)


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require("playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        _require(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    return sync_playwright


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test provider and the demo pointed at it; yield the demo's base URL."""
    _sync_playwright()
    _require(ensure_installed())
    folder = tmp_path_factory.mktemp("oidc-demo")
    port = free_port()
    base = f"http://localhost:{port}"
    with running_provider(f"{base}/auth", folder / "provider.log") as issuer:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_"))}
        env["AUTH_BCRYPT_ROUNDS"] = "4"
        env["AUTH_OIDC_PROVIDERS"] = json.dumps(
            {"test": {"issuer": issuer, "client_id": "web", "client_secret": "web-secret"}}
        )
        env["AUTH_OIDC_REDIRECT_BASE_URL"] = base
        command = [sys.executable, "-m", "authmanager.demo", "--port", str(port)]
        command += ["--db", str(folder / "demo.db"), "--password", "browser-test-password"]
        with (folder / "demo.log").open("wb") as log:
            server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait_for(server, f"http://127.0.0.1:{port}/openapi.json", folder / "demo.log")
                yield base
            finally:
                server.terminate()
                server.wait(timeout=10)


def _wait_for(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the demo exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the demo did not start within 30 seconds")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile."""
    with _sync_playwright()() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield context
        finally:
            context.close()


def _output(page: Any, action: str) -> dict[str, Any]:
    page.wait_for_function(
        "action => JSON.parse(document.querySelector('#output').textContent).action === action",
        arg=action,
        timeout=20_000,
    )
    result: dict[str, Any] = json.loads(page.locator("#output").text_content())
    return result


def test_sign_in_with_the_provider_ends_signed_in_to_the_demo(demo: str, browser: Any) -> None:
    """Click "Sign in with test", log in and consent on the provider's pages, land signed in."""
    page = browser.new_page()
    page.goto(f"{demo}/")
    button = page.locator("#provider-test")
    label = button.text_content()
    button.click()
    page.wait_for_url("http://127.0.0.1:*/interaction/**")  # the provider's login page
    login_page = page.url
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    page.locator("button[type=submit]", has_text="Continue").click()  # its consent page
    page.wait_for_url(f"{demo}/")
    me = _output(page, "me")
    cookies = {c["name"]: c for c in browser.cookies() if c["domain"] == "localhost"}

    assert label == "Sign in with test"
    assert login_page.startswith("http://127.0.0.1:")
    assert me["status"] == 200
    assert me["body"]["email"] == "alice@example.com"
    assert cookies["refresh_token"]["httpOnly"] is True
    assert cookies["authmanager_oidc"]["httpOnly"] is True
    assert cookies["authmanager_oidc"]["sameSite"] == "Lax"
    assert "refresh_token" not in page.evaluate("document.cookie")
    assert "signed_in" not in page.url  # the page cleaned its address


def test_failed_callback_shows_a_page_not_a_500(demo: str, browser: Any) -> None:
    """A callback this browser did not start (login CSRF): a readable error page."""
    page = browser.new_page()
    answer = page.goto(f"{demo}/auth/oidc/test/callback?code=x&state={'s' * 43}")
    assert answer is not None
    assert answer.status == 400
    assert page.locator("h1").text_content() == "Sign-in failed"
    assert page.locator("#reason").text_content() == "invalid_state"
