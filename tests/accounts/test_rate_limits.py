"""Account rate limits: per client IP and per address, blind to whether the account exists."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest

from authmanager import ClientInfo
from authmanager.accounts import Purpose
from authmanager.exceptions import InvalidTokenError, RateLimitExceededError
from tests.accounts.conftest import MakeAccounts
from tests.accounts.support import Accounts
from tests.conftest import PASSWORD, REDIS_ENV, CreateUser

LIMIT = "3/minute"
_MINUTES = timedelta(minutes=5)


def ip(n: int) -> ClientInfo:
    return ClientInfo(ip_address=f"203.0.113.{n}")


@pytest.mark.parametrize("login", ["alice@example.com", "nobody@example.com"])
async def test_address_limit_is_the_same_for_known_and_unknown_logins(
    make_accounts: MakeAccounts, create_user: CreateUser, login: str
) -> None:
    """Three requests for one address pass, the fourth is refused, account or not."""
    accounts = make_accounts(account_rate_limit=LIMIT)
    await create_user("alice@example.com")
    for n in range(3):
        await accounts.service.request_password_reset(login, client=ip(n))
    with pytest.raises(RateLimitExceededError) as caught:
        await accounts.service.request_password_reset(login, client=ip(9))
    assert 1 <= caught.value.retry_after <= 60


async def test_address_limit_counts_across_flows(
    make_accounts: MakeAccounts, create_user: CreateUser
) -> None:
    """Reset requests and sign-in links share the count of an address."""
    accounts = make_accounts(account_rate_limit=LIMIT)
    await create_user("alice@example.com")
    await accounts.service.request_password_reset("alice@example.com", client=ip(1))
    await accounts.service.request_login_link("ALICE@example.com", client=ip(2))
    await accounts.service.request_login_link("alice@example.com", client=ip(3))
    with pytest.raises(RateLimitExceededError):
        await accounts.service.request_password_reset("alice@example.com", client=ip(4))
    await accounts.settle()
    assert len(accounts.captured.messages) == 3


async def test_ip_limit_spans_addresses(make_accounts: MakeAccounts) -> None:
    """One client IP asking for many addresses is stopped too."""
    accounts = make_accounts(account_rate_limit=LIMIT)
    for n in range(3):
        await accounts.service.request_login_link(f"user{n}@example.com", client=ip(1))
    with pytest.raises(RateLimitExceededError):
        await accounts.service.request_login_link("other@example.com", client=ip(1))
    await accounts.service.request_login_link("other@example.com", client=ip(2))


async def test_registration_is_limited_before_any_hashing(make_accounts: MakeAccounts) -> None:
    """Over the limit, register refuses before it spends a hash."""
    accounts = make_accounts(account_rate_limit="1/minute")
    await accounts.service.register("first@example.com", PASSWORD, client=ip(1))
    with pytest.raises(RateLimitExceededError):
        await accounts.service.register("second@example.com", PASSWORD, client=ip(1))
    assert accounts.hasher.hashes == 1
    assert await accounts.count_users() == 1


async def test_failed_confirmations_are_limited_per_ip(
    make_accounts: MakeAccounts, create_user: CreateUser
) -> None:
    """Three bad tokens from one IP: even a good one is then refused from there."""
    accounts = make_accounts(account_rate_limit=LIMIT)
    await create_user("alice@example.com")
    await accounts.service.request_login_link("alice@example.com", client=ip(1))
    await accounts.settle()
    token = accounts.captured.last(Purpose.LOGIN_LINK).token
    assert token is not None
    for _ in range(3):
        with pytest.raises(InvalidTokenError):
            await accounts.service.login_with_link("B" * 43, client=ip(7))
    with pytest.raises(RateLimitExceededError):
        await accounts.service.login_with_link(token, client=ip(7))
    assert (await accounts.service.login_with_link(token, client=ip(8))).access_token


async def test_successful_confirmations_do_not_count(
    make_accounts: MakeAccounts, create_user: CreateUser
) -> None:
    """Good tokens cost nothing against the failure limit."""
    accounts = make_accounts(account_rate_limit="1/minute")
    user = await create_user("alice@example.com")
    for _ in range(3):
        token = await accounts.tokens.create(
            str(user.id), Purpose.LOGIN_LINK, expires_in=_MINUTES, data={"to": user.email}
        )
        await accounts.service.login_with_link(token, client=ip(5))


async def test_empty_limit_turns_it_off(accounts_unlimited: Accounts) -> None:
    """AUTH_ACCOUNT_RATE_LIMIT empty: no refusal."""
    for _ in range(10):
        await accounts_unlimited.service.request_login_link("x@example.com", client=ip(1))


@pytest.fixture
def accounts_unlimited(make_accounts: MakeAccounts) -> Accounts:
    return make_accounts(account_rate_limit="")


@pytest.fixture
def redis_db() -> str:
    """The Redis database given by AUTHMANAGER_TEST_REDIS_URL, when configured."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis not configured: set {REDIS_ENV}")
    return url


@pytest.mark.redis
async def test_limits_are_shared_through_redis(make_accounts: MakeAccounts, redis_db: str) -> None:
    """Two services on one Redis count together (several workers)."""
    first = make_accounts(account_rate_limit=LIMIT, limiter_url=redis_db)
    second = make_accounts(account_rate_limit=LIMIT, limiter_url=redis_db)
    # Addresses and IPs of this run only: counts of earlier runs stay apart.
    address = f"{uuid.uuid4().hex[:12]}@example.com"
    try:
        for service in (first, second, first):
            await service.service.request_login_link(address, client=unique_ip())
        with pytest.raises(RateLimitExceededError):
            await second.service.request_login_link(address, client=unique_ip())
    finally:
        for accounts in (first, second):
            # Close the Redis pool on this test's loop (it would be collected after it).
            await accounts.limiter.aclose()


def unique_ip() -> ClientInfo:
    raw = uuid.uuid4().bytes
    return ClientInfo(ip_address=f"10.{raw[0]}.{raw[1]}.{raw[2]}")
