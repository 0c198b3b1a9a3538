"""Fixtures of the rate-limit tests: clients with a chosen address, a hashing spy, Redis."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from authmanager import AuthManager
from tests.app import User, make_app
from tests.conftest import REDIS_ENV

Client = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def client_from() -> AsyncIterator[Client]:
    """Build an HTTPS client on *manager*'s app whose requests come from address *ip*."""
    opened: list[httpx.AsyncClient] = []

    def factory(manager: AuthManager[User], ip: str = "203.0.113.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=make_app(manager), client=(ip, 40000))
        c = httpx.AsyncClient(transport=transport, base_url="https://testserver")
        opened.append(c)
        return c

    yield factory
    for c in opened:
        await c.aclose()


class HashSpy:
    """Counts password verifications; the real hasher still does the work."""

    def __init__(self, manager: AuthManager[Any]) -> None:
        self.calls = 0
        real = manager._passwords.verify_async

        async def counting(password: str, hashed: str | None) -> bool:
            self.calls += 1
            return await real(password, hashed)

        manager._passwords.verify_async = counting  # type: ignore[method-assign]


@pytest.fixture
def redis_url() -> str:
    """The Redis server for the shared-storage tests; required when CI=true."""
    url = os.environ.get(REDIS_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {REDIS_ENV} is not set: the Redis tests must run in CI.")
    pytest.skip(f"Redis not configured: set {REDIS_ENV}")
