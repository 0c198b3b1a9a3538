"""The Redis-backed limiter: counts shared by every worker on the same storage URL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from authmanager import AuthManager
from tests.app import User
from tests.conftest import PASSWORD, CreateUser, login
from tests.support.http import Client
from tests.support.spies import HashSpy

pytestmark = pytest.mark.redis

MakeManager = Callable[..., AuthManager[User]]


def unique_ip() -> str:
    """An address no other test (or colleague's run on the same Redis) uses."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


async def test_two_workers_share_failed_login_counts(
    make_manager: MakeManager, client_from: Client, create_user: CreateUser, redis_url: str
) -> None:
    """Three failures on worker A and two on worker B lock the IP on both workers."""
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    await create_user(email)
    worker_a = make_manager(rate_limit_storage_url=redis_url)
    worker_b = make_manager(rate_limit_storage_url=redis_url)
    spies = HashSpy(worker_a), HashSpy(worker_b)
    ip = unique_ip()
    a, b = client_from(worker_a, ip), client_from(worker_b, ip)
    for client in (a, a, a, b, b):
        assert (await login(client, email, "wrong")).status_code == 401
    for client in (a, b):
        response = await login(client, email, PASSWORD)
        assert response.status_code == 429
        assert 1 <= int(response.headers["retry-after"]) <= 15 * 60
    assert [s.calls for s in spies] == [3, 2]


async def test_login_name_limit_is_shared_across_workers_and_ips(
    make_manager: MakeManager, client_from: Client, create_user: CreateUser, redis_url: str
) -> None:
    """Failures on one login from different IPs and workers add up in Redis (account limit)."""
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    await create_user(email)
    workers = [
        make_manager(rate_limit_storage_url=redis_url, login_account_rate_limit="5/15 minutes")
        for _ in range(2)
    ]
    for n in range(5):
        client = client_from(workers[n % 2], unique_ip())
        assert (await login(client, email, "wrong")).status_code == 401
    response = await login(client_from(workers[1], unique_ip()), email, PASSWORD)
    assert response.status_code == 429
    stranger = f"{uuid.uuid4().hex[:12]}@example.com"
    other = await login(client_from(workers[0], unique_ip()), stranger, "wrong")
    assert other.status_code == 401


async def test_redis_successful_login_still_answers_200(
    make_manager: MakeManager, client_from: Client, create_user: CreateUser, redis_url: str
) -> None:
    """With Redis storage a correct login is 200 and leaves no failure behind."""
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    await create_user(email)
    manager = make_manager(rate_limit_storage_url=redis_url)
    client = client_from(manager, unique_ip())
    for _ in range(6):
        assert (await login(client, email, PASSWORD)).status_code == 200


async def test_pooled_connections_the_server_closed_are_retried(
    make_manager: MakeManager, client_from: Client, create_user: CreateUser, redis_url: str
) -> None:
    """After Redis drops every connection (a restart), no request fails for a stale one.

    Concurrent logins open pooled connections; the server then closes them all
    (`CLIENT KILL`, what a restart does to them); concurrent logins again must each get
    their answer (each broken connection is replaced once), not a 503.
    """
    import redis.asyncio as redis

    email = f"{uuid.uuid4().hex[:12]}@example.com"
    await create_user(email)
    name = f"am-{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in redis_url else "?"
    manager = make_manager(
        rate_limit_storage_url=f"{redis_url}{separator}client_name={name}",
        login_rate_limit="1000/minute",
        login_account_rate_limit="1000/minute",
    )
    clients = [client_from(manager, unique_ip()) for _ in range(10)]

    async def burst() -> list[int]:
        answers = await asyncio.gather(*(login(c, email, PASSWORD) for c in clients))
        return [a.status_code for a in answers]

    assert await burst() == [200] * 10
    admin = redis.Redis.from_url(redis_url)
    try:
        ours = [c["id"] for c in await admin.client_list() if c.get("name") == name]
        assert ours
        for ident in ours:
            await admin.client_kill_filter(_id=ident)
    finally:
        await admin.aclose()
    assert await burst() == [200] * 10
