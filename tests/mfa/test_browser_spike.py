"""Spike: Chromium's virtual authenticator (CDP `WebAuthn` domain) against `MfaService`.

A tiny page on http://localhost (a secure context, so WebAuthn runs) calls
`navigator.credentials.create()` and `.get()` with the service's options; Chromium's
virtual CTAP2 platform authenticator (resident keys, user verification) answers, as a
real passkey would. It proves the service's options and checks work with a real browser,
for the phase-2 demo page and browser test. Skipped when Chromium or Playwright is
missing, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Body, FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, metadata
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager.mfa import MfaService
from authmanager.testing import test_settings
from tests.app import Base, User, Users
from tests.mfa.conftest import ManagerSessions

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

PAGE = """<!doctype html>
<meta charset="utf-8"><title>passkey spike</title>
<script>
const b64 = {
  dec: (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), c => c.charCodeAt(0)),
  enc: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""),
};
async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body ?? {})});
  return {status: r.status, body: await r.json()};
}
function toJSON(cred) {
  const r = cred.response, out = {id: cred.id, rawId: b64.enc(cred.rawId), type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment, clientExtensionResults: {},
    response: {clientDataJSON: b64.enc(r.clientDataJSON)}};
  if (r.attestationObject) {
    out.response.attestationObject = b64.enc(r.attestationObject);
    out.response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    out.response.authenticatorData = b64.enc(r.authenticatorData);
    out.response.signature = b64.enc(r.signature);
    if (r.userHandle) out.response.userHandle = b64.enc(r.userHandle);
  }
  return out;
}
async function register() {
  const o = (await post("/register/options")).body;
  o.challenge = b64.dec(o.challenge); o.user.id = b64.dec(o.user.id);
  o.excludeCredentials = (o.excludeCredentials || []).map(c => ({...c, id: b64.dec(c.id)}));
  const cred = await navigator.credentials.create({publicKey: o});
  return await post("/register", toJSON(cred));
}
async function signIn(optionsPath, finishPath, extra) {
  const o = (await post(optionsPath, extra)).body;
  o.challenge = b64.dec(o.challenge);
  o.allowCredentials = (o.allowCredentials || []).map(c => ({...c, id: b64.dec(c.id)}));
  const cred = await navigator.credentials.get({publicKey: o});
  return await post(finishPath, {...extra, credential: toJSON(cred)});
}
</script>
"""


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
            pytest.fail(f"CI=true and the browser spike cannot run: {problem}")
        pytest.skip(problem)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _app(db_url: str, origin: str) -> FastAPI:
    """The page and five JSON routes over one `MfaService` (the user is always Alice)."""
    engine = create_async_engine(db_url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    settings = test_settings(webauthn_rp_id="localhost", webauthn_origins=[origin])
    manager: AuthManager[User] = AuthManager(
        settings=settings, session_factory=factory, user_loader=Users()
    )
    mfa = MfaService(
        settings=settings,
        database=Database(factory),
        users=Users(),
        sessions=ManagerSessions(manager),
        events=HookDispatcher([], timeout=1.0),
        limiter=RateLimiter("memory://"),
    )
    app = FastAPI()

    async def alice() -> User:
        async with factory() as db:
            user = await Users().get_user_by_login(db, "alice@example.com")
        assert user is not None
        return user

    async def session_of(pair: Any) -> dict[str, Any]:
        payload = await manager.verify_token(pair.access_token)
        return {"sub": payload.sub, "amr": payload["amr"]}

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE

    @app.post("/register/options")
    async def register_options() -> dict[str, Any]:
        return await mfa.passkey_registration_options(await alice())

    @app.post("/register")
    async def register(credential: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        info = await mfa.register_passkey(await alice(), credential, label="Chromium")
        return {"id": info.id, "kind": info.kind, "label": info.label}

    @app.post("/login/options")
    async def login_options() -> dict[str, Any]:
        return await mfa.passkey_login_options()

    @app.post("/login")
    async def login(credential: Annotated[dict[str, Any], Body(embed=True)]) -> dict[str, Any]:
        return await session_of(await mfa.login_with_passkey(credential))

    @app.post("/mfa/start")
    async def mfa_start() -> dict[str, Any]:
        mfa_token, factors = await mfa.challenge(await alice())
        return {"mfa_token": mfa_token, "factors": factors}

    @app.post("/mfa/options")
    async def mfa_options(mfa_token: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
        return await mfa.passkey_options(mfa_token)

    @app.post("/mfa/verify")
    async def mfa_verify(
        mfa_token: Annotated[str, Body()], credential: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        return await session_of(await mfa.verify(mfa_token, passkey=credential))

    return app


async def _prepare(db_url: str) -> None:
    engine = create_async_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(Base.metadata.create_all)
    async with async_sessionmaker(engine)() as db, db.begin():
        db.add(User(email="alice@example.com", hashed_password="x", is_active=True))
    await engine.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The spike app served by uvicorn in a thread, on http://localhost:<free port>."""
    _require_browser()
    import uvicorn

    db_url = f"sqlite+aiosqlite:///{tmp_path / 'spike.db'}"
    asyncio.run(_prepare(db_url))
    port = _free_port()
    origin = f"http://localhost:{port}"
    config = uvicorn.Config(_app(db_url, origin), host="127.0.0.1", port=port, log_level="error")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the spike server did not start")
        time.sleep(0.05)
    try:
        yield origin
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def test_chromium_virtual_authenticator_registers_and_signs_in(server: str, tmp_path: Path) -> None:
    """CDP virtual authenticator: register a passkey, sign in without a password, then use
    it as the second factor of an `mfa_token`; the service verifies every response."""
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(server)
            cdp = page.context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            added = cdp.send(
                "WebAuthn.addVirtualAuthenticator",
                {
                    "options": {
                        "protocol": "ctap2",
                        "transport": "internal",
                        "hasResidentKey": True,
                        "hasUserVerification": True,
                        "isUserVerified": True,
                    }
                },
            )
            registered = page.evaluate("register()")
            stored = cdp.send(
                "WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]}
            )
            signed_in = page.evaluate("signIn('/login/options', '/login', {})")
            started = page.evaluate("post('/mfa/start')")
            second = page.evaluate(
                "token => signIn('/mfa/options', '/mfa/verify', {mfa_token: token})",
                started["body"]["mfa_token"],
            )
        finally:
            browser.close()
    assert registered["status"] == 200, registered
    assert (registered["body"]["kind"], registered["body"]["label"]) == ("passkey", "Chromium")
    (credential,) = stored["credentials"]
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    assert signed_in["status"] == 200, signed_in
    assert signed_in["body"]["sub"] == "1"
    # Chromium's virtual authenticator is device-bound (not backup eligible): hwk.
    assert signed_in["body"]["amr"] == ["hwk", "mfa"]
    assert started["body"]["factors"] == ["passkey"]
    assert second["status"] == 200, second
    assert second["body"]["amr"] == ["pwd", "hwk", "mfa"]
