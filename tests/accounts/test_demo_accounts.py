"""The demo's account flows in process, on every database: ConsoleSender prints the links."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from authmanager.demo import DEMO_EMAIL, create_app
from tests.conftest import bearer, client_for

DEMO_PASSWORD = "demo password for tests"
PAGE_IDS = (
    "register-email",
    "register-password",
    "register",
    "verify-request",
    "forgot-email",
    "forgot",
    "reset-form",
    "new-password",
    "link-email",
    "link",
    "change-email",
)
_LINK = re.compile(r"(http://\S+)#token=([A-Za-z0-9_-]+)")


@pytest.fixture
async def demo_app(database: str) -> AsyncIterator[FastAPI]:
    app = create_app(database, password=DEMO_PASSWORD)
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def demo(demo_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(demo_app) as client:
        yield client


def printed_link(capsys: pytest.CaptureFixture[str], purpose: str, to: str) -> tuple[str, str]:
    """The (page, token) of the link ConsoleSender printed for *purpose* to *to*."""
    out = capsys.readouterr().out
    block = out[out.index(f"--- {purpose} to {to}") :]
    found = _LINK.search(block)
    assert found is not None, out
    return found.group(1), found.group(2)


async def test_demo_page_offers_the_account_flows(demo: httpx.AsyncClient) -> None:
    """The page has the forms, reads the fragment, and sends no Referer; link pages exist."""
    page = await demo.get("/")
    for element in PAGE_IDS:
        assert f'id="{element}"' in page.text, element
    assert '<meta name="referrer" content="no-referrer">' in page.text
    assert "location.hash" in page.text
    assert "history.replaceState" in page.text
    for path in ("/verify-email", "/reset-password", "/confirm-email", "/login-link"):
        linked = await demo.get(path)
        assert (linked.status_code, linked.text) == (200, page.text)


async def test_demo_registers_verifies_resets_and_signs_in_by_link(
    demo: httpx.AsyncClient, demo_app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each flow through the demo's API, its link read from the console output."""
    email, password, new = "new@example.com", "first passphrase", "second passphrase"
    registered = await demo.post("/auth/register", json={"login": email, "password": password})
    assert registered.status_code == 202
    auth = demo_app.state.auth
    await auth.drain_events()  # the account is created right after the answer
    login = {"username": email, "password": password}
    refused = await demo.post("/auth/login", data=login)
    assert (refused.status_code, refused.json()["error"]) == (403, "email_not_verified")
    page, token = printed_link(capsys, "verify_email", email)
    assert page == "http://localhost:8000/verify-email"
    assert (await demo.post("/auth/verify-email", json={"token": token})).status_code == 200
    assert (await demo.post("/auth/login", data=login)).status_code == 200

    await demo.post("/auth/password/forgot", json={"login": email})
    await auth.drain_events()
    _, token = printed_link(capsys, "reset_password", email)
    reset = await demo.post("/auth/password/reset", json={"token": token, "password": new})
    assert reset.status_code == 200

    await demo.post("/auth/login-link", json={"login": email})
    await auth.drain_events()
    _, token = printed_link(capsys, "login_link", email)
    signed_in = await demo.post("/auth/login-link/confirm", json={"token": token})
    assert signed_in.status_code == 200, signed_in.text
    me = await demo.get("/me", headers=bearer(signed_in.json()["access_token"]))
    assert me.json()["email"] == email


async def test_demo_user_is_verified_and_logs_in(demo: httpx.AsyncClient) -> None:
    """The demo requires verified addresses; its own user is verified at start-up."""
    login = await demo.post("/auth/login", data={"username": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
