"""POST /register over HTTP, and the AUTH_REQUIRE_VERIFIED_EMAIL rule of POST /login."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager.accounts import Purpose
from tests.accounts.http_support import AccountApp, MakeAccountApp, same_bytes
from tests.accounts.support import AccountUsers
from tests.app import User
from tests.conftest import PASSWORD, CreateUser

NEW = "new@example.com"


async def count_users(app: AccountApp) -> int:
    async with app.factory() as db:
        return int((await db.execute(select(func.count()).select_from(User))).scalar_one())


async def test_register_answers_201_with_the_new_id(account_app: AccountApp) -> None:
    """201 {id}; the account exists with its field and logs in; no mail without verification."""
    response = await account_app.post(
        "/register", json={"login": NEW, "password": PASSWORD, "display_name": "New"}
    )
    assert response.status_code == 201, response.text
    stored = await account_app.user(NEW)
    assert stored is not None
    assert response.json() == {"id": str(stored.id)}
    assert response.headers["cache-control"] == "no-store"
    assert (stored.display_name, stored.is_verified) == ("New", False)
    assert (await account_app.login(NEW, PASSWORD)).status_code == 200
    await account_app.settle()
    assert account_app.events.last("account.registered").user_id == str(stored.id)
    assert account_app.captured.messages == []


async def test_register_with_a_taken_login_is_409(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """A taken login (any case) is 409 login_taken; nothing is stored."""
    await create_user("alice@example.com")
    response = await account_app.post(
        "/register", json={"login": "ALICE@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "login_taken"
    assert response.json()["reason"] == "login_taken"
    assert await count_users(account_app) == 1


@pytest.mark.parametrize(
    ("password", "rule"),
    [("short", "min_length"), ("é" * 600, "max_bytes")],
    ids=["short", "long-in-bytes"],
)
async def test_register_with_a_weak_password_is_422_naming_the_rule(
    account_app: AccountApp, password: str, rule: str
) -> None:
    """422 invalid_request with `rule`; the password is not echoed; nothing stored."""
    response = await account_app.post("/register", json={"login": NEW, "password": password})
    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["error"], body["reason"], body["rule"]) == (
        "invalid_request",
        "password_policy",
        rule,
    )
    assert password not in response.text
    assert await count_users(account_app) == 0


async def test_minimum_length_setting_is_the_rule_named(
    make_account_app: MakeAccountApp,
) -> None:
    """AUTH_PASSWORD_MIN_LENGTH moves the bound, and the message says the number."""
    app = make_account_app(password_min_length=12)
    short = await app.post("/register", json={"login": NEW, "password": "elevenchars"})
    long_enough = await app.post("/register", json={"login": NEW, "password": "twelve chars"})
    assert short.status_code == 422
    assert "12 characters" in short.json()["detail"]
    assert long_enough.status_code == 201, long_enough.text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"login": "not-an-address", "password": PASSWORD}, "invalid_address"),
        ({"login": "a\r\nBcc: x@example.com", "password": PASSWORD}, "invalid_address"),
        ({"login": NEW, "password": PASSWORD, "is_active": True}, "invalid_fields"),
        ({"login": NEW, "password": PASSWORD, "role": "admin"}, "invalid_fields"),
        ({"login": NEW, "password": PASSWORD, "display_name": 42}, "invalid_fields"),
    ],
    ids=["no-at", "header-injection", "is_active", "role", "wrong-type"],
)
async def test_register_refuses_bad_input_with_422(
    account_app: AccountApp, body: Mapping[str, Any], reason: str
) -> None:
    """A malformed address or a field the loader refuses: 422 naming the check, nothing stored."""
    response = await account_app.post("/register", json=dict(body))
    assert response.status_code == 422, response.text
    assert (response.json()["error"], response.json()["reason"]) == ("invalid_request", reason)
    assert await count_users(account_app) == 0


async def test_register_malformed_body_is_422_without_echoing_it(
    account_app: AccountApp,
) -> None:
    """A body without a password, or with too many fields: 422, the input never echoed."""
    missing = await account_app.post("/register", json={"login": NEW})
    crowded = {"login": NEW, "password": PASSWORD} | {f"f{i}": "secret-value" for i in range(40)}
    many = await account_app.post("/register", json=crowded)
    assert (missing.status_code, missing.json()["error"]) == (422, "invalid_request")
    assert (many.status_code, many.json()["error"]) == (422, "invalid_request")
    assert "secret-value" not in many.text
    assert await count_users(account_app) == 0


class RacingUsers(AccountUsers):
    """The test loader, whose `create_user` waits until *expected* registrations reach it.

    Every registration then has looked the login up before any inserts: the race that
    PostgreSQL allows. SQLite begins each transaction IMMEDIATE, so there a second one
    cannot get this far while the first is open; the wait ends after a second.
    """

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.arrived = 0
        self._expected = expected
        self._all_in = asyncio.Event()

    async def _create_user(
        self, session: AsyncSession, login: str, password_hash: str | None, fields: Any
    ) -> User:
        self.arrived += 1
        if self.arrived >= self._expected:
            self._all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_in.wait(), timeout=1.0)
        return await super()._create_user(session, login, password_hash, fields)


async def test_concurrent_registrations_of_one_login_give_one_201_and_409s(
    make_account_app: MakeAccountApp, database: str
) -> None:
    """Racing registrations of one login: exactly one 201, every other 409, one row."""
    racers = 6
    users = RacingUsers(racers)
    app = make_account_app(users=users, account_rate_limit="")
    body = {"login": NEW, "password": PASSWORD}
    answers = await asyncio.gather(*(app.post("/register", json=body) for _ in range(racers)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (racers - 1), [a.text for a in answers]
    assert await count_users(app) == 1
    if database.startswith("postgresql"):
        assert users.arrived == racers  # every one passed the look-up: a real race


async def test_register_is_rate_limited_per_address(make_account_app: MakeAccountApp) -> None:
    """Over AUTH_ACCOUNT_RATE_LIMIT for one address: 429 with Retry-After."""
    app = make_account_app(account_rate_limit="2/15 minutes")
    body = {"login": NEW, "password": PASSWORD}
    first = await app.post("/register", json=body)
    second = await app.post("/register", json=body)
    third = await app.post("/register", json=body)
    assert (first.status_code, second.status_code, third.status_code) == (201, 409, 429)
    assert int(third.headers["retry-after"]) >= 1
    assert third.json()["error"] == "slow_down"


class NoCreateUsers:
    """A loader with the two look-ups only: it cannot create users."""

    async def get_user(self, session: AsyncSession, user_id: str) -> User | None:
        return await session.get(User, int(user_id)) if user_id.isdigit() else None

    async def get_user_by_login(self, session: AsyncSession, login: str) -> User | None:
        query = select(User).where(User.email == login)
        return (await session.execute(query)).scalars().first()


async def test_register_is_not_mounted_without_create_user(
    make_account_app: MakeAccountApp,
) -> None:
    """A loader without create_user: no /register; the other account routes are there."""
    app = make_account_app(users=NoCreateUsers())
    paths = {route.path for route in app.manager.router.routes}  # type: ignore[attr-defined]
    assert "/register" not in paths
    assert {"/password/forgot", "/login-link", "/verify-email"} <= paths
    response = await app.post("/register", json={"login": NEW, "password": PASSWORD})
    assert response.status_code == 404


async def test_a_flow_the_loader_cannot_do_is_501(make_account_app: MakeAccountApp) -> None:
    """Without set_password_hash, /password/forgot is 501 for any login (no look-up first)."""
    app = make_account_app(users=NoCreateUsers())
    response = await app.post("/password/forgot", json={"login": "alice@example.com"})
    assert response.status_code == 501, response.text
    assert response.json()["reason"] == "flow_unavailable"
    assert "set_password_hash" in response.json()["detail"]


async def test_login_refuses_an_unverified_user_only_after_the_right_password(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """Verification required: wrong password 401 as for an unknown login; right one 403."""
    app = make_account_app(require_verified_email=True)
    user = await create_user("alice@example.com")
    wrong = await app.login("alice@example.com", "not the password")
    unknown = await app.login("nobody@example.com", "not the password")
    right = await app.login("alice@example.com", PASSWORD)
    same_bytes(wrong, unknown)  # no oracle: an unverified account looks like no account
    assert wrong.status_code == 401
    assert right.status_code == 403, right.text
    assert right.json()["error"] == "email_not_verified"
    assert "set-cookie" not in right.headers
    await app.settle()
    failed = app.events.of("login.failed")
    assert [(e.user_id, e.reason) for e in failed][-1] == (str(user.id), "email_not_verified")
    assert app.events.of("login.succeeded") == []


async def test_login_lets_a_verified_user_in_when_verification_is_required(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """After /verify-email, the same login answers 200."""
    app = make_account_app(require_verified_email=True, account_rate_limit="")
    alice = await create_user("alice@example.com")
    refused = await app.login("alice@example.com", PASSWORD)
    await app.manager.request_email_verification(alice)
    verified = await app.post(
        "/verify-email", json={"token": await app.token(Purpose.VERIFY_EMAIL)}
    )
    assert refused.status_code == 403
    assert verified.status_code == 200, verified.text
    assert (await app.login("alice@example.com", PASSWORD)).status_code == 200
