"""The account guides' examples (docs/examples/{registration,email_*,password_reset,
login_links}_*.py) run, on SQLite and PostgreSQL, and do what their guides say."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager

from authmanager.testing import TEST_SECRET
from tests.accounts import smtp_server
from tests.accounts.smtp_server import Mailbox
from tests.conftest import bearer, client_for
from tests.support.docs import Load, add_user, create_tables

PASSWORD = "correct horse battery staple"
EMAIL = "ada@example.com"
_LINK = re.compile(r"(https?://[^\s#]+)#token=([A-Za-z0-9_-]+)")


def printed(capsys: pytest.CaptureFixture[str], purpose: str, to: str) -> tuple[str, str]:
    """The (page, token) of the last link ConsoleSender printed for *purpose* to *to*."""
    out = capsys.readouterr().out
    block = out[out.rindex(f"--- {purpose} to {to}") :]
    found = _LINK.search(block)
    assert found is not None, out
    return found.group(1), found.group(2)


def amr(token: str) -> list[str]:
    claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"], options={"verify_aud": False})
    found: list[str] = claims["amr"]
    return found


async def _login(client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD) -> str:
    response = await client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_registration_with_verified_addresses(
    load: Load, capsys: pytest.CaptureFixture[str]
) -> None:
    """202 for a new and a taken address alike; the link verifies; then /login works."""
    mod = load("registration_1")
    async with LifespanManager(mod.app), client_for(mod.app) as client:
        await add_user(mod, "taken@example.com")
        new = await client.post("/auth/register", json={"login": EMAIL, "password": PASSWORD})
        taken = await client.post(
            "/auth/register", json={"login": "taken@example.com", "password": PASSWORD}
        )
        await mod.auth.drain_events()
        refused = await client.post("/auth/login", data={"username": EMAIL, "password": PASSWORD})
        out = capsys.readouterr().out
        assert "--- account_exists to taken@example.com" in out
        page, token = _LINK.search(out[out.index(f"--- verify_email to {EMAIL}") :]).groups()  # type: ignore[union-attr]
        verified = await client.post("/auth/verify-email", json={"token": token})
        await _login(client)
    assert (new.status_code, new.content) == (taken.status_code, taken.content)
    assert new.status_code == 202
    assert (refused.status_code, refused.json()["error"]) == (403, "email_not_verified")
    assert page == "https://app.example/verify-email"
    assert verified.status_code == 200


async def test_registration_from_python(load: Load) -> None:
    """create_account returns the id, "taken", or the broken rule."""
    mod = load("registration_2")
    await create_tables(mod)
    created = await mod.create_account(EMAIL, PASSWORD)
    assert created.isdigit()
    assert await mod.create_account(EMAIL, PASSWORD) == "taken"
    assert await mod.create_account("bob@example.com", "too short") == "refused: min_length"


async def test_verified_user_gate(load: Load, capsys: pytest.CaptureFixture[str]) -> None:
    """/invitations is 403 until the user verifies through /auth/verify-email."""
    mod = load("email_verification_1")
    await create_tables(mod)
    await add_user(mod)
    async with client_for(mod.app) as client:
        access = await _login(client)
        before = await client.post("/invitations", headers=bearer(access))
        asked = await client.post("/auth/verify-email/request", headers=bearer(access))
        await mod.auth.drain_events()
        page, token = printed(capsys, "verify_email", EMAIL)
        assert page == "http://localhost:8000/verify-email"  # the default template
        verified = await client.post("/auth/verify-email", json={"token": token})
        after = await client.post("/invitations", headers=bearer(access))
    assert before.status_code == 403
    assert (asked.status_code, verified.status_code) == (202, 200)
    assert after.json() == {"from": EMAIL}


async def test_password_reset_settings_and_flow(
    load: Load, capsys: pytest.CaptureFixture[str]
) -> None:
    """The link opens the configured page; the reset ends the old session; min length 10."""
    mod = load("password_reset_1")
    await create_tables(mod)
    await add_user(mod)
    new_password = "a new passphrase"
    async with client_for(mod.app) as client:
        old = await _login(client)
        forgot = await client.post("/auth/password/forgot", json={"login": EMAIL})
        unknown = await client.post("/auth/password/forgot", json={"login": "x@example.com"})
        await mod.auth.drain_events()
        page, token = printed(capsys, "reset_password", EMAIL)
        short = await client.post(
            "/auth/password/reset", json={"token": token, "password": "9 chars!!"}
        )
        reset = await client.post(
            "/auth/password/reset", json={"token": token, "password": new_password}
        )
        old_after = await client.get("/auth/sessions", headers=bearer(old))
        await _login(client, password=new_password)
    assert (forgot.status_code, forgot.content) == (unknown.status_code, unknown.content)
    assert page == "https://app.example/reset-password"
    assert (short.status_code, short.json()["rule"]) == (422, "min_length")
    assert reset.json()["revoked"] == 2
    assert old_after.status_code == 401


async def test_email_change_flow(load: Load, capsys: pytest.CaptureFixture[str]) -> None:
    """A fresh login asks; the new address confirms; the old one is told."""
    mod = load("email_change_1")
    await create_tables(mod)
    await add_user(mod)
    async with client_for(mod.app) as client:
        access = await _login(client)
        asked = await client.post(
            "/auth/email/change", json={"new_login": "ada@new.example"}, headers=bearer(access)
        )
        await mod.auth.drain_events()
        page, token = printed(capsys, "change_email", "ada@new.example")
        confirmed = await client.post("/auth/email/confirm", json={"token": token})
        await mod.auth.drain_events()
        notice = capsys.readouterr().out
        await _login(client, "ada@new.example")
    assert (asked.status_code, confirmed.status_code) == (202, 200)
    assert page == "https://app.example/confirm-email"
    assert f"--- email_changed to {EMAIL}" in notice
    assert "#token=" not in notice


async def test_login_links_and_amr(load: Load, capsys: pytest.CaptureFixture[str]) -> None:
    """A sign-in link gives amr ["email"], and /billing asks for the password then."""
    mod = load("login_links_1")
    await create_tables(mod)
    await add_user(mod)
    async with client_for(mod.app) as client:
        await client.post("/auth/login-link", json={"login": EMAIL})
        await mod.auth.drain_events()
        page, token = printed(capsys, "login_link", EMAIL)
        signed_in = await client.post("/auth/login-link/confirm", json={"token": token})
        by_link = signed_in.json()["access_token"]
        how = await client.get("/signed-in-with", headers=bearer(by_link))
        refused = await client.post("/billing", headers=bearer(by_link))
        by_password = await _login(client)
        allowed = await client.post("/billing", headers=bearer(by_password))
    assert page == "https://app.example/login-link"
    assert (how.json(), amr(by_link)) == ({"amr": ["email"]}, ["email"])
    assert refused.status_code == 403
    assert (amr(by_password), allowed.status_code) == (["pwd"], 200)


async def test_email_delivery_over_smtp(
    load: Load,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SMTPSender from AUTH_SMTP_* (STARTTLS, AUTH) behind the guide's logging sender."""
    mailbox = Mailbox()
    certificate = smtp_server.self_signed(tmp_path)
    controller = smtp_server.starttls_controller(mailbox, certificate)
    for name, value in {
        "AUTH_SMTP_HOST": "127.0.0.1",
        "AUTH_SMTP_PORT": str(controller.port),
        "AUTH_SMTP_SECURITY": "starttls",
        "AUTH_SMTP_CA_FILE": str(certificate[0]),
        "AUTH_SMTP_USERNAME": smtp_server.USERNAME,
        "AUTH_SMTP_PASSWORD": smtp_server.PASSWORD,
        "AUTH_SMTP_FROM": "no-reply@app.example",
    }.items():
        monkeypatch.setenv(name, value)
    mod = load("email_delivery_1")
    await create_tables(mod)
    await add_user(mod)
    controller.start()
    try:
        with caplog.at_level(logging.INFO, logger="app.mail"):
            await mod.auth.request_password_reset(EMAIL)
            await mod.auth.drain_events()
    finally:
        controller.stop()
        await mod.auth.aclose()
    (delivered,) = mailbox.delivered
    assert (delivered.tls, delivered.authenticated) == (True, True)
    assert delivered.message["From"] == "no-reply@app.example"
    assert delivered.message["To"] == EMAIL
    assert "reset-password#token=" in delivered.message.get_payload(decode=True).decode()
    assert "mail reset_password to user" in caplog.text
    assert "token=" not in caplog.text
