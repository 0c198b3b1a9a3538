"""The demo's account flows in a real browser, with the links read from the demo's console.

`python -m authmanager.demo` sends its messages through `ConsoleSender`, which prints
them on the process's standard output: the test reads each link there, as a developer
trying the demo would, and opens it in Chromium. Skipped without Playwright or
Chromium, except under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.browser.test_demo_browser import ARGS, CHROMIUM, _require_browser
from tests.support.http import free_port

DOCS_LINK_PAGE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "email_delivery_2.js"

pytestmark = pytest.mark.browser

EMAIL = "new.user@example.com"
PASSWORD = "first passphrase 1"
NEW_PASSWORD = "second passphrase 2"
_LINK = re.compile(r"http://\S+#token=([A-Za-z0-9_-]+)")


@dataclass
class Console:
    """The demo's standard output, read line by line in a thread."""

    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def follow(self, stream: IO[str]) -> None:
        for line in stream:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.lines)

    def link(self, purpose: str, to: str, *, after: int = 0, timeout: float = 15.0) -> str:
        """The link of the first `purpose` message to *to* printed after line *after*."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                lines = self.lines[after:]
            header = f"--- {purpose} to {to}"
            if header in lines:
                block = lines[lines.index(header) :]
                for line in block[1 : block.index("---", 1) if "---" in block[1:] else None]:
                    found = _LINK.search(line)
                    if found:
                        return found.group(0)
            time.sleep(0.05)
        pytest.fail(f"no {purpose} message to {to} in the demo's console:\n{self.text()}")

    def mark(self) -> int:
        with self.lock:
            return len(self.lines)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Console]]:
    """The demo served by uvicorn on a free port; its console captured."""
    _require_browser()
    port = free_port()
    db = tmp_path_factory.mktemp("accounts-demo") / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_"))}
    env["AUTH_BCRYPT_ROUNDS"] = "4"
    env["PYTHONUNBUFFERED"] = "1"
    env["AUTH_ACCOUNT_RATE_LIMIT"] = "30/15 minutes"  # several tests share 127.0.0.1
    command = [sys.executable, "-m", "authmanager.demo", "--port", str(port), "--db", str(db)]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    console = Console()
    assert server.stdout is not None
    reader = threading.Thread(target=console.follow, args=(server.stdout,), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if server.poll() is not None:
                pytest.fail(f"the demo exited with {server.returncode}:\n{console.text()}")
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the demo did not start within 30 seconds")
        yield base, console
    finally:
        server.terminate()
        server.wait(timeout=10)
        reader.join(timeout=5)
        server.stdout.close()


@pytest.fixture
def browser(tmp_path: Any) -> Iterator[Any]:
    """A headless Chromium context with a fresh profile."""
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        ctx = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield ctx
        finally:
            ctx.close()


def _wait_output(page: Any, action: str) -> dict[str, Any]:
    page.wait_for_function(
        "action => JSON.parse(document.querySelector('#output').textContent).action === action",
        arg=action,
    )
    result: dict[str, Any] = json.loads(page.locator("#output").text_content())
    page.evaluate("document.querySelector('#output').textContent = '{}'")
    return result


def _submit(page: Any, fields: dict[str, str], button: str, action: str) -> dict[str, Any]:
    for selector, text in fields.items():
        page.fill(selector, text)
    page.click(button)
    return _wait_output(page, action)


def test_register_verify_reset_and_sign_in_by_link(demo: tuple[str, Console], browser: Any) -> None:
    """Register, open the verification link, reset the password, sign in by link, call /me."""
    base, console = demo
    page = browser.new_page()
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(f"{base}/")

    start = console.mark()
    registered = _submit(
        page,
        {"#register-email": EMAIL, "#register-password": PASSWORD},
        "#register",
        "register",
    )
    verify_link = console.link("verify_email", EMAIL, after=start)
    unverified = _submit(page, {"#username": EMAIL, "#password": PASSWORD}, "#login", "login")
    page.goto(verify_link)
    verified = _wait_output(page, "verify-email")
    address_after_link = page.url
    login = _submit(page, {"#username": EMAIL, "#password": PASSWORD}, "#login", "login")

    start = console.mark()
    forgot = _submit(page, {"#forgot-email": EMAIL}, "#forgot", "forgot")
    reset_link = console.link("reset_password", EMAIL, after=start)
    page.goto(reset_link)
    page.locator("#reset-form").wait_for()
    reset = _submit(page, {"#new-password": NEW_PASSWORD}, "#reset", "reset")
    old_password = _submit(page, {"#username": EMAIL, "#password": PASSWORD}, "#login", "login")

    start = console.mark()
    asked = _submit(page, {"#link-email": EMAIL}, "#link", "link")
    sign_in_link = console.link("login_link", EMAIL, after=start)
    page.goto(sign_in_link)
    signed_in = _wait_output(page, "login-link")
    page.click("#me")
    me = _wait_output(page, "me")
    cookies = {c["name"]: c for c in browser.cookies()}

    assert (registered["status"], unverified["status"]) == (202, 403)
    assert unverified["body"]["error"] == "email_not_verified"
    assert verified["status"] == 200
    assert "#" not in address_after_link  # the page took the token out of the address bar
    assert login["status"] == 200
    assert forgot["status"] == 202
    assert reset["status"] == 200
    assert reset["body"]["revoked"] == 2  # the session of the login above
    assert old_password["status"] == 401
    assert asked["status"] == 202
    assert signed_in["status"] == 200
    assert signed_in["body"]["access_token"] == "(kept in memory)"
    assert cookies["refresh_token"]["httpOnly"] is True
    assert me["status"] == 200
    assert me["body"]["email"] == EMAIL

    tokens = [_LINK.search(link).group(1) for link in (verify_link, reset_link, sign_in_link)]  # type: ignore[union-attr]
    for request in requests:
        referer = request.headers.get("referer")
        assert referer is None or not any(t in referer for t in tokens), referer
        assert not any(t in request.url for t in tokens) or "#" in request.url, request.url
    # The links appear in the console once each (the messages); no log line repeats a token.
    output = console.text()
    for token in tokens:
        assert output.count(token) == 1, token


def test_docs_link_page_reads_the_fragment(demo: tuple[str, Console], browser: Any) -> None:
    """The email-delivery guide's script takes the token from the fragment and posts it."""
    base, console = demo
    start = console.mark()
    asked = httpx.post(f"{base}/auth/login-link", json={"login": "demo@example.com"}, timeout=10)
    assert asked.status_code == 202
    token = _LINK.search(console.link("login_link", "demo@example.com", after=start)).group(1)  # type: ignore[union-attr]
    page = browser.new_page()
    page.goto(f"{base}/openapi.json#token={token}")  # a same-origin page without scripts
    page.add_script_tag(path=str(DOCS_LINK_PAGE))
    taken = page.evaluate("takeLinkToken()")
    address = page.evaluate("location.href")
    bad = page.evaluate("confirmLink('/auth/login-link/confirm', 'A'.repeat(43))")
    good = page.evaluate("token => confirmLink('/auth/login-link/confirm', token)", taken)
    assert taken == token
    assert address == f"{base}/openapi.json"
    assert (bad["status"], bad["body"]["error"]) == (400, "invalid_grant")
    assert good["status"] == 200
    assert "access_token" in good["body"]
    assert "refresh_token" in {c["name"] for c in browser.cookies()}
