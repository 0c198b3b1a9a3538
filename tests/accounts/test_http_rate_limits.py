"""Every route that sends mail is limited per client IP and, separately, per address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.accounts.http_support import AccountApp, MakeAccountApp, same_bytes
from tests.conftest import PASSWORD, CreateUser, bearer

LIMIT = "2/15 minutes"
Send = Callable[[AccountApp, str, str], Awaitable[httpx.Response]]


def _from(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def _register(app: AccountApp, address: str, ip: str) -> httpx.Response:
    body = {"login": address, "password": PASSWORD}
    return await app.post("/register", json=body, headers=_from(ip))


async def _forgot(app: AccountApp, address: str, ip: str) -> httpx.Response:
    return await app.post("/password/forgot", json={"login": address}, headers=_from(ip))


async def _link(app: AccountApp, address: str, ip: str) -> httpx.Response:
    return await app.post("/login-link", json={"login": address}, headers=_from(ip))


ANONYMOUS: list[tuple[str, Send]] = [
    ("register", _register),
    ("forgot", _forgot),
    ("login-link", _link),
]


def _app(make_account_app: MakeAccountApp) -> AccountApp:
    # The test client's peer is 127.0.0.1: trusted, so X-Forwarded-For names the client.
    return make_account_app(
        account_rate_limit=LIMIT, require_verified_email=True, trusted_proxies=["127.0.0.1/32"]
    )


@pytest.mark.parametrize(("_name", "send"), ANONYMOUS, ids=[n for n, _ in ANONYMOUS])
async def test_one_ip_is_limited_over_many_addresses(
    make_account_app: MakeAccountApp, _name: str, send: Send
) -> None:
    """The third request from one IP is 429, whatever the address; another IP passes."""
    app = _app(make_account_app)
    first = await send(app, "a@example.com", "203.0.113.1")
    second = await send(app, "b@example.com", "203.0.113.1")
    third = await send(app, "c@example.com", "203.0.113.1")
    elsewhere = await send(app, "d@example.com", "203.0.113.2")
    assert (first.status_code, second.status_code) == (202, 202)
    assert third.status_code == 429
    assert int(third.headers["retry-after"]) >= 1
    assert elsewhere.status_code == 202


@pytest.mark.parametrize(("_name", "send"), ANONYMOUS, ids=[n for n, _ in ANONYMOUS])
async def test_one_address_is_limited_over_many_ips(
    make_account_app: MakeAccountApp, create_user: CreateUser, _name: str, send: Send
) -> None:
    """The third request for one address is 429 from any IP, existing account or not."""
    app = _app(make_account_app)
    await create_user("alice@example.com")
    for address in ("alice@example.com", "nobody@example.com"):
        answers = [await send(app, address, f"198.51.100.{i}") for i in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        if address == "alice@example.com":
            known = answers[-1]
    same_bytes(known, answers[-1])  # the 429 too tells nothing about the account


async def test_verification_request_and_email_change_are_limited(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """The bearer routes that send mail count per address too (each request another IP)."""
    app = make_account_app(account_rate_limit=LIMIT, trusted_proxies=["127.0.0.1/32"])
    await create_user("alice@example.com")
    access = await app.access_token("alice@example.com", PASSWORD)
    verify = [
        await app.post("/verify-email/request", headers={**bearer(access), **_from(f"192.0.2.{i}")})
        for i in range(3)
    ]
    change = [
        await app.post(
            "/email/change",
            json={"new_login": "alice@new.example"},
            headers={**bearer(access), **_from(f"192.0.2.{10 + i}")},
        )
        for i in range(3)
    ]
    assert [a.status_code for a in verify] == [202, 202, 429]
    assert [a.status_code for a in change] == [202, 202, 429]
