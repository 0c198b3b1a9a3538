"""Concurrent logins on one name take turns, so a burst cannot outrun the failed-login limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from authmanager import AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import login
from tests.support.http import Client
from tests.support.spies import HashSpy

MakeManager = Callable[..., AuthManager[User]]
LIMIT = 5  # the default "5/15 minutes"

# Private reads (ruff SLF001 is ignored for tests): the login limiter's turns (one lock per
# login name) have no public view, and "no lock outlives its waiters" is what is tested.


async def test_burst_of_wrong_passwords_hashes_at_most_the_limit(
    make_manager: MakeManager, client_from: Client, user: User, events: CapturingHook
) -> None:
    """20 concurrent wrong passwords for one login (20 IPs): 5 hashes and 401s, 15 429s.

    From 20 addresses only the account limit applies (set to 5 here; 30/hour by default).
    """
    manager = make_manager(login_account_rate_limit="5/15 minutes")
    spy = HashSpy(manager)
    clients = [client_from(manager, f"198.51.100.{n}") for n in range(1, 21)]
    responses = await asyncio.gather(
        *(login(c, "Alice@Example.com ", "wrong password") for c in clients)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * LIMIT + [429] * (20 - LIMIT)
    assert spy.calls == LIMIT
    assert all(r.json()["reason"] == "rate_limited" for r in responses if r.status_code == 429)
    await manager.drain_events()
    assert len(events.of(EventName.LOGIN_FAILED)) == LIMIT
    assert len(events.of(EventName.LOGIN_RATE_LIMITED)) == 20 - LIMIT
    assert manager._limiter._turns == {}  # every lock dropped once nobody waits


async def test_burst_from_one_ip_hashes_at_most_the_limit(
    manager: AuthManager[User], client_from: Client, user: User
) -> None:
    """20 concurrent wrong passwords from one IP for one login: at most 5 hashes."""
    spy = HashSpy(manager)
    client = client_from(manager, "198.51.100.77")
    responses = await asyncio.gather(*(login(client, password="wrong") for _ in range(20)))
    assert sorted(r.status_code for r in responses) == [401] * LIMIT + [429] * (20 - LIMIT)
    assert spy.calls == LIMIT


async def test_concurrent_good_logins_all_succeed(
    manager: AuthManager[User], client_from: Client, user: User, events: CapturingHook
) -> None:
    """Turns do not refuse anyone: 8 concurrent correct logins for one name all get tokens."""
    clients = [client_from(manager, f"192.0.2.{n}") for n in range(1, 9)]
    responses: list[httpx.Response] = await asyncio.gather(*(login(c) for c in clients))
    assert [r.status_code for r in responses] == [200] * 8
    assert all(r.json()["token_type"] == "bearer" for r in responses)
    await manager.drain_events()
    assert len(events.of(EventName.LOGIN_SUCCEEDED)) == 8
    assert manager._limiter._turns == {}


async def test_different_login_names_do_not_wait_for_each_other(
    manager: AuthManager[User],
) -> None:
    """Holding the turn of one login name leaves another name's turn free."""
    limiter = manager._limiter
    async with limiter.attempt("alice@example.com"):
        async with asyncio.timeout(1):
            async with limiter.attempt("bob@example.com"):
                assert len(limiter._turns) == 2
        blocked = asyncio.ensure_future(_enter(limiter, " ALICE@example.com"))
        await asyncio.sleep(0.01)
        assert not blocked.done()  # the same name, normalised, waits its turn
    await asyncio.wait_for(blocked, 1)
    assert limiter._turns == {}


async def test_limit_off_takes_no_turns(make_manager: MakeManager) -> None:
    """With both per-name limits off, `attempt()` creates no lock at all."""
    limiter = make_manager(login_rate_limit="", login_account_rate_limit="")._limiter
    async with limiter.attempt("alice@example.com"), limiter.attempt("alice@example.com"):
        assert limiter._turns == {}


async def _enter(limiter: object, name: str) -> None:
    async with limiter.attempt(name):  # type: ignore[attr-defined]
        pass
