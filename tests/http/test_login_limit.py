"""Failed logins limited per login name and address, per name, per address, before hashing."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from authmanager import AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook, reset_rate_limits
from tests.app import User
from tests.conftest import PASSWORD, CreateUser, login
from tests.support.http import Client
from tests.support.spies import HashSpy

MakeManager = Callable[..., AuthManager[User]]
WINDOW = 15 * 60


def assert_rate_limited(response: httpx.Response) -> None:
    """429, `slow_down`, and a `Retry-After` within the 15-minute window."""
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "slow_down"
    assert response.json()["reason"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= WINDOW
    assert response.headers["cache-control"] == "no-store"


async def test_sixth_failed_login_from_one_ip_is_429_before_hashing(
    make_manager: MakeManager, client_from: Client, user: User, events: CapturingHook
) -> None:
    """Five failures from one IP (any login names); the sixth try is 429 and hashes nothing.

    The per-address limit is `login_ip_rate_limit` (200/hour by default: an office NAT).
    """
    manager = make_manager(login_ip_rate_limit="5/15 minutes")
    spy = HashSpy(manager)
    client = client_from(manager, "198.51.100.1")
    for n in range(5):
        response = await login(client, f"guess{n}@example.com", "wrong password")
        assert response.status_code == 401
    assert spy.calls == 5
    assert_rate_limited(await login(client, "guess5@example.com", "wrong password"))
    assert_rate_limited(await login(client))  # even the right password of a real user
    assert spy.calls == 5
    await manager.drain_events()
    assert events.names() == ["login.failed"] * 5 + ["login.rate_limited"] * 2
    limited = events.last(EventName.LOGIN_RATE_LIMITED)
    assert limited.client_ip == "198.51.100.1"
    assert limited.reason == "rate_limited"
    assert limited.user_id is None
    assert 1 <= int(limited.extra["retry_after"]) <= WINDOW


async def test_limit_per_login_name_holds_across_ips(
    make_manager: MakeManager, client_from: Client, create_user: CreateUser, events: CapturingHook
) -> None:
    """Five failures on one login from five proxied IPs lock that login, not others.

    From many addresses the account limit applies (`login_account_rate_limit`, 5 here).
    """
    manager = make_manager(trusted_proxies=["10.0.0.0/8"], login_account_rate_limit="5/15 minutes")
    alice = await create_user("alice@example.com")
    bob_user = await create_user("bob@example.com")
    spy = HashSpy(manager)
    client = client_from(manager, "10.0.0.2")  # the trusted proxy
    for n in range(5):
        forwarded = {"X-Forwarded-For": f"192.0.2.{n + 1}"}
        response = await login(client, " Alice@Example.com", "wrong", headers=forwarded)
        assert response.status_code == 401
    fresh_ip = {"X-Forwarded-For": "192.0.2.99"}
    assert_rate_limited(await login(client, "alice@example.com", PASSWORD, headers=fresh_ip))
    bob = await login(client, "bob@example.com", PASSWORD, headers=fresh_ip)
    assert bob.status_code == 200
    assert spy.calls == 6  # five failures and bob; alice's sixth try hashed nothing
    await manager.drain_events()
    failed_ips = [e.client_ip for e in events.of(EventName.LOGIN_FAILED)]
    assert failed_ips == [f"192.0.2.{n + 1}" for n in range(5)]
    assert events.last(EventName.LOGIN_RATE_LIMITED).client_ip == "192.0.2.99"
    assert [e.user_id for e in events.of(EventName.LOGIN_SUCCEEDED)] == [str(bob_user.id)]
    assert alice.id != bob_user.id


async def test_successful_logins_do_not_count(
    manager: AuthManager[User], client_from: Client, user: User
) -> None:
    """Four failures, then many successes: the fifth failure is still only a 401."""
    client = client_from(manager)
    for _ in range(4):
        assert (await login(client, password="wrong")).status_code == 401
    for _ in range(6):
        assert (await login(client)).status_code == 200
    assert (await login(client, password="wrong")).status_code == 401
    assert_rate_limited(await login(client))


async def test_configured_limit_applies(
    make_manager: MakeManager, client_from: Client, user: User
) -> None:
    """`login_rate_limit="2/minute"`: the third try after two failures is 429 (<= 60 s)."""
    manager = make_manager(login_rate_limit="2/minute")
    client = client_from(manager)
    for _ in range(2):
        assert (await login(client, password="wrong")).status_code == 401
    response = await login(client)
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_empty_limit_turns_login_limiting_off(
    make_manager: MakeManager, client_from: Client, user: User, events: CapturingHook
) -> None:
    """With `login_rate_limit=""` every failure is hashed and answered 401."""
    manager = make_manager(login_rate_limit="")
    spy = HashSpy(manager)
    client = client_from(manager)
    for _ in range(8):
        assert (await login(client, password="wrong")).status_code == 401
    assert (await login(client)).status_code == 200
    assert spy.calls == 9
    await manager.drain_events()
    assert not events.of(EventName.LOGIN_RATE_LIMITED)


async def test_reset_rate_limits_forgets_the_counts(
    manager: AuthManager[User], client_from: Client, user: User
) -> None:
    """`authmanager.testing.reset_rate_limits` lets a locked-out client in again."""
    client = client_from(manager)
    for _ in range(5):
        assert (await login(client, password="wrong")).status_code == 401
    assert_rate_limited(await login(client))
    await reset_rate_limits(manager)
    assert (await login(client)).status_code == 200


async def test_refresh_over_its_limit_is_429_and_reported(
    make_manager: MakeManager, client_from: Client, user: User, events: CapturingHook
) -> None:
    """`refresh_rate_limit="2/minute"`: the third refresh from one IP is 429, a rejection."""
    manager = make_manager(refresh_rate_limit="2/minute", refresh_token_transport="body")
    client = client_from(manager, "198.51.100.9")
    token = (await login(client)).json()["refresh_token"]
    for _ in range(2):
        response = await client.post("/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 200
        token = response.json()["refresh_token"]
    limited = await client.post("/auth/refresh", json={"refresh_token": token})
    assert limited.status_code == 429
    assert limited.json()["error"] == "slow_down"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    await manager.drain_events()
    rejected = events.last(EventName.TOKEN_REJECTED)
    assert rejected.reason == "rate_limited"
    assert rejected.client_ip == "198.51.100.9"
    # The refused token was not consumed: it still works once the window allows.
    await reset_rate_limits(manager)
    assert (await client.post("/auth/refresh", json={"refresh_token": token})).status_code == 200


async def test_unreachable_redis_fails_closed_with_503(
    make_manager: MakeManager,
    client_from: Client,
    user: User,
    caplog: pytest.LogCaptureFixture,
    events: CapturingHook,
) -> None:
    """With the rate-limit storage down, /login answers 503 and checks no password."""
    url = "redis://:hunter2-redis-pass@127.0.0.1:1/0"
    manager = make_manager(rate_limit_storage_url=url)
    spy = HashSpy(manager)
    client = client_from(manager)
    response = await login(client)
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["retry-after"] == "5"
    assert spy.calls == 0
    warnings = [r for r in caplog.records if r.name == "authmanager.ratelimit"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "hunter2" not in caplog.text
    await manager.drain_events()
    assert events.names() == []
