"""Issue 11, item 7 (and issue 12): rate-limit keys of different kinds never collide, and
the failed-login limits do not let a stranger, or an office's typos, lock others out.

In 0.1 every limit counted in one namespace: five failed `/login` attempts with the
login name `user:1` locked the real user 1 out of `/fresh`, whose key was `user:1`
too; and failed logins were counted per address, so one office behind a NAT shared
five attempts, and refreshes per address (60 a minute for the whole office).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from authmanager import AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import PASSWORD, REDIS_ENV, CreateUser, MakeManager, bearer, login
from tests.support.spies import HashSpy

From = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def from_ip() -> AsyncIterator[From]:
    """An HTTPS client on *manager*'s test app whose requests come from *ip*."""
    opened: list[httpx.AsyncClient] = []

    def factory(manager: AuthManager[User], ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=make_app(manager), client=(ip, 40000))
        c = httpx.AsyncClient(transport=transport, base_url="https://testserver")
        opened.append(c)
        return c

    yield factory
    for c in opened:
        await c.aclose()


async def test_failed_logins_named_like_a_user_id_do_not_limit_that_user(
    manager: AuthManager[User], from_ip: From, user: User, events: CapturingHook
) -> None:
    """Five failed logins as `user:<id>` leave the real user's `/fresh` untouched (was 429)."""
    attacker = from_ip(manager, "198.51.100.66")
    for _ in range(5):
        assert (await login(attacker, f"user:{user.id}", "guess")).status_code == 401
    assert (await login(attacker, f"user:{user.id}", "guess")).status_code == 429
    owner = from_ip(manager, "192.0.2.10")
    access = (await login(owner)).json()["access_token"]
    fresh = await owner.post("/auth/fresh", data={"password": PASSWORD}, headers=bearer(access))
    assert fresh.status_code == 200, fresh.text
    await manager.drain_events()
    assert events.of(EventName.LOGIN_RATE_LIMITED)[-1].client_ip == "198.51.100.66"


async def test_failed_fresh_checks_do_not_limit_a_login_name(
    manager: AuthManager[User], from_ip: From, create_user: CreateUser, user: User
) -> None:
    """The reverse: five wrong `/fresh` passwords of user 1 do not lock a login `user:1`."""
    named = await create_user(f"user:{user.id}")
    client = from_ip(manager, "192.0.2.20")
    access = (await login(client)).json()["access_token"]
    for _ in range(5):
        wrong = await client.post("/auth/fresh", data={"password": "x"}, headers=bearer(access))
        assert wrong.status_code == 401
    limited = await client.post("/auth/fresh", data={"password": PASSWORD}, headers=bearer(access))
    assert limited.status_code == 429  # the step-up of user 1 is limited...
    response = await login(client, f"user:{user.id}")
    assert response.status_code == 200, response.text  # ...not the login named like it
    assert named.id != user.id


async def test_refreshes_are_limited_per_session_not_per_address(
    make_manager: MakeManager, from_ip: From, create_user: CreateUser
) -> None:
    """Two people behind one NAT: one session at its refresh limit, the other refreshes."""
    manager = make_manager(refresh_rate_limit="2/minute", refresh_token_transport="body")
    await create_user("alice@example.com")
    await create_user("bob@example.com")
    office = from_ip(manager, "203.0.113.80")
    alice = (await login(office)).json()["refresh_token"]
    bob = (await login(office, "bob@example.com")).json()["refresh_token"]
    for _ in range(2):
        response = await office.post("/auth/refresh", json={"refresh_token": alice})
        assert response.status_code == 200
        alice = response.json()["refresh_token"]
    assert (await office.post("/auth/refresh", json={"refresh_token": alice})).status_code == 429
    bobs = await office.post("/auth/refresh", json={"refresh_token": bob})
    assert bobs.status_code == 200, bobs.text


async def test_an_office_behind_one_address_is_not_locked_out(
    manager: AuthManager[User], from_ip: From, create_user: CreateUser
) -> None:
    """Twenty colleagues behind one NAT each mistype once, then all sign in (0.1: 429 at 6)."""
    office = from_ip(manager, "203.0.113.90")
    names = [f"colleague{n}@example.com" for n in range(20)]
    for name in names:
        await create_user(name)
    for name in names:
        assert (await login(office, name, "typo")).status_code == 401
    statuses = [(await login(office, name)).status_code for name in names]
    assert statuses == [200] * 20


async def test_a_stranger_cannot_lock_the_owner_out_of_a_known_address(
    make_manager: MakeManager, from_ip: From, user: User, events: CapturingHook
) -> None:
    """Failures from many addresses trip the account limit, except where the owner logs in."""
    manager = make_manager(login_account_rate_limit="3/hour")
    home = from_ip(manager, "192.0.2.50")
    assert (await login(home)).status_code == 200  # the owner's usual address
    for n in range(3):
        stranger = from_ip(manager, f"198.51.100.{n + 1}")
        assert (await login(stranger, password="guess")).status_code == 401
    botnet = from_ip(manager, "198.51.100.200")
    spy = HashSpy(manager)
    assert (await login(botnet)).status_code == 429  # even the right password: not hashed
    assert spy.calls == 0
    assert (await login(home)).status_code == 200  # the owner, at home, is not locked out
    await manager.drain_events()
    assert events.last(EventName.LOGIN_RATE_LIMITED).client_ip == "198.51.100.200"


async def test_the_address_limit_stops_password_spraying(
    make_manager: MakeManager, from_ip: From, user: User
) -> None:
    """One address trying one password on many names hits `login_ip_rate_limit`."""
    manager = make_manager(login_ip_rate_limit="3/hour")
    sprayer = from_ip(manager, "198.51.100.99")
    for n in range(3):
        assert (await login(sprayer, f"victim{n}@example.com", "Summer2024!")).status_code == 401
    assert (await login(sprayer, "victim9@example.com", "Summer2024!")).status_code == 429
    elsewhere = from_ip(manager, "192.0.2.99")
    assert (await login(elsewhere)).status_code == 200


async def test_a_concurrent_spray_from_one_address_hashes_at_most_the_limit(
    make_manager: MakeManager, from_ip: From, user: User
) -> None:
    """Twenty concurrent names from one address: at most the address limit is hashed."""
    manager = make_manager(login_ip_rate_limit="5/hour")
    spy = HashSpy(manager)
    sprayer = from_ip(manager, "198.51.100.98")
    responses = await asyncio.gather(
        *(login(sprayer, f"name{n}@example.com", "guess") for n in range(20))
    )
    assert sorted(r.status_code for r in responses) == [401] * 5 + [429] * 15
    assert spy.calls == 5


@pytest.mark.parametrize(
    ("unlock", "frees"),
    [
        pytest.param({"login": "alice@example.com"}, {"pair", "account"}, id="login"),
        pytest.param({"ip": "198.51.100.7"}, {"address"}, id="ip"),
        pytest.param(
            {"login": "alice@example.com", "ip": "198.51.100.7"},
            {"pair", "account", "address"},
            id="both",
        ),
    ],
)
async def test_unlock_login_lifts_the_limits_it_names(
    make_manager: MakeManager,
    from_ip: From,
    user: User,
    events: CapturingHook,
    unlock: dict[str, str],
    frees: set[str],
) -> None:
    """`unlock_login` lifts the login's limits, the address's, or both; an event says so."""
    manager = make_manager(login_account_rate_limit="5/hour", login_ip_rate_limit="5/hour")
    client = from_ip(manager, "198.51.100.7")
    for _ in range(5):
        assert (await login(client, password="wrong")).status_code == 401
    other = from_ip(manager, "192.0.2.7")  # not a known address: the account limit applies
    assert (await login(client)).status_code == 429  # the pair (and the address) limit
    assert (await login(other)).status_code == 429  # the account limit
    assert (await login(client, "bob@example.com", "x")).status_code == 429  # the address
    await manager.unlock_login(**unlock)
    assert ((await login(other)).status_code == 200) is ("account" in frees)
    assert ((await login(client, "bob@example.com", "x")).status_code == 401) is (
        "address" in frees
    )
    expected_self = 200 if {"pair", "address"} <= frees else 429
    assert (await login(client)).status_code == expected_self
    await manager.drain_events()
    unlocked = events.last(EventName.LOGIN_UNLOCKED)
    assert unlocked.user_id == (str(user.id) if "login" in unlock else None)
    assert unlocked.client_ip == unlock.get("ip")
    assert unlocked.extra == {"by_login": "login" in unlock, "by_ip": "ip" in unlock}


async def test_unlock_login_needs_something_to_unlock(manager: AuthManager[User]) -> None:
    """Neither a login nor an address is a mistake, not a silent no-op."""
    with pytest.raises(ValueError, match="login name, a client address"):
        await manager.unlock_login()


@pytest.fixture
def redis_url() -> str:
    """The Redis server of the shared-storage tests (AUTHMANAGER_TEST_REDIS_URL)."""
    url = os.environ.get(REDIS_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {REDIS_ENV} is not set: the Redis tests must run in CI.")
    pytest.skip(f"Redis not configured: set {REDIS_ENV}")


@pytest.mark.redis
async def test_the_three_limits_and_unlock_work_on_redis(
    make_manager: MakeManager, from_ip: From, create_user: CreateUser, redis_url: str
) -> None:
    """Two workers on one Redis: account limit, known address, unlock (generations) shared."""
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    await create_user(email)
    settings = {"rate_limit_storage_url": redis_url, "login_account_rate_limit": "3/hour"}
    a, b = make_manager(**settings), make_manager(**settings)
    raw = uuid.uuid4().bytes
    home, office = f"10.{raw[0]}.{raw[1]}.1", f"10.{raw[0]}.{raw[1]}.2"
    assert (await login(from_ip(a, home), email)).status_code == 200
    for n in range(3):
        stranger = from_ip((a, b)[n % 2], f"10.{raw[2]}.{raw[3]}.{n + 1}")
        assert (await login(stranger, email, "guess")).status_code == 401
    assert (await login(from_ip(b, office), email)).status_code == 429  # account, on b
    assert (await login(from_ip(b, home), email)).status_code == 200  # known on a, seen by b
    assert (await login(from_ip(a, office), email)).status_code == 429  # and on a
    await b.unlock_login(email)  # on the other worker
    assert (await login(from_ip(a, office), email)).status_code == 200
    await a.aclose()  # the Redis connections
    await b.aclose()
