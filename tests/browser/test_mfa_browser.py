"""Second factors on the demo page, in Chromium with its virtual authenticator.

The demo (`python -m authmanager.demo`) is served on a free port and opened as
`http://localhost:<port>/`: localhost is a secure context and a domain, which WebAuthn
needs (an IP address cannot be a relying party id). Chromium's DevTools `WebAuthn`
domain, through Playwright's CDP session, adds a virtual CTAP2 platform authenticator
that keeps resident keys and verifies its user, as a phone or laptop passkey does.

Steps: log in with the password; register a passkey and enroll an authenticator app
(the test reads the secret the page shows and computes codes with pyotp); log out;
sign in with the passkey alone; log out; log in with the password, answer the second
step with the passkey; again with a TOTP code.

Chromium is Debian's (`apt-get install -y chromium`). Skipped when it or Playwright is
missing, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-mfa-password"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A platform authenticator as a laptop or phone has: resident keys, user verification.
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


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


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    """The demo on a free loopback port and a temp SQLite file; its page's localhost URL."""
    _require_browser()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_"))}
    env["AUTH_BCRYPT_ROUNDS"] = "4"
    command = [sys.executable, "-m", "authmanager.demo", "--port", str(port)]
    command += ["--db", str(tmp_path / "demo.db"), "--password", PASSWORD]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(300):
            if server.poll() is not None:
                pytest.fail(f"the demo exited with {server.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).is_success:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the demo did not start within 30 seconds")
        yield f"http://localhost:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@dataclass
class Tab:
    """The demo page, and the CDP session holding its virtual authenticator."""

    page: Any
    cdp: Any
    authenticator_id: str


@pytest.fixture
def tab(demo: str) -> Iterator[Tab]:
    """The demo page in headless Chromium, with a virtual authenticator attached."""
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{demo}/")
            cdp = page.context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
            yield Tab(page, cdp, added["authenticatorId"])
        finally:
            browser.close()


def _click(page: Any, button: str, action: str) -> dict[str, Any]:
    """Click *button*; wait until the page reports *action*; return its report."""
    page.click(button)
    page.wait_for_function(
        "action => JSON.parse(document.querySelector('#output').textContent).action === action",
        arg=action,
        timeout=15_000,
    )
    result: dict[str, Any] = json.loads(page.locator("#output").text_content())
    page.evaluate("document.querySelector('#output').textContent = '{}'")
    return result


def _log_in(page: Any) -> dict[str, Any]:
    page.fill("#password", PASSWORD)
    return _click(page, "#login", "login")


def test_demo_page_passkeys_and_totp_in_chromium(tab: Tab) -> None:
    """Register a passkey and enroll TOTP from the page, sign in with the passkey alone,
    then with the password and each second factor; the server checks every response."""
    page, cdp, authenticator_id = tab.page, tab.cdp, tab.authenticator_id
    first = _log_in(page)
    registered = _click(page, "#passkey-register", "passkey_register")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    begun = _click(page, "#totp-begin", "totp_begin")
    secret = page.locator("#totp-secret").text_content().strip()
    qr = page.locator("#totp-qr").get_attribute("src")
    page.fill("#totp-code", pyotp.TOTP(secret).now())
    confirmed = _click(page, "#totp-confirm", "totp_confirm")
    listed = _click(page, "#factors", "factors")
    _click(page, "#logout", "logout")

    passwordless = _click(page, "#passkey-login", "passkey_login")
    me = _click(page, "#me", "me")
    _click(page, "#logout", "logout")

    challenged = _log_in(page)
    second_step_shown = page.locator("#second-step").is_visible()
    with_passkey = _click(page, "#mfa-passkey", "mfa_passkey")
    _click(page, "#logout", "logout")

    _log_in(page)
    page.fill("#mfa-code", pyotp.TOTP(secret).at(time.time() + 30))  # the next time step
    with_code = _click(page, "#mfa-verify", "mfa_verify")

    assert (first["status"], first["body"]["amr"]) == (200, ["pwd"])
    assert registered["status"] == 201, registered
    assert (registered["body"]["kind"], registered["body"]["label"]) == ("passkey", "Demo page")
    (credential,) = stored["credentials"]
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    assert begun["status"] == 200, begun
    assert qr.startswith("data:image/svg+xml;base64,")
    assert len(secret) == 32
    assert confirmed["status"] == 200, confirmed
    assert len(confirmed["body"]["recovery_codes"]) == 10
    assert sorted(f["kind"] for f in listed["body"]) == ["passkey", "totp"]
    assert passwordless["status"] == 200, passwordless
    assert passwordless["body"]["amr"] == ["hwk", "mfa"]  # the virtual key is device-bound
    assert me["body"] == {"id": 1, "email": "demo@example.com"}
    assert challenged["status"] == 403, challenged
    assert challenged["body"]["error"] == "mfa_required"
    assert challenged["body"]["factors"] == ["totp", "passkey", "recovery_code"]
    assert challenged["body"]["mfa_token"] == "(kept in memory)"
    assert second_step_shown is True
    assert with_passkey["status"] == 200, with_passkey
    assert with_passkey["body"]["amr"] == ["pwd", "hwk", "mfa"]
    assert with_code["status"] == 200, with_code
    assert with_code["body"]["amr"] == ["pwd", "otp", "mfa"]
    assert page.locator("#second-step").is_visible() is False
