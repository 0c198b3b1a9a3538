"""Fixtures of the HTTP tests: table reads, clients by settings, clients by address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from tests.app import User, make_app
from tests.support.http import Client, client_for
from tests.support.rows import Tables


@pytest.fixture
def tables(session_factory: async_sessionmaker[AsyncSession]) -> Tables:
    """Direct reads of the token tables."""
    return Tables(session_factory)


@pytest.fixture
async def client_with(
    make_manager: Callable[..., AuthManager[User]],
) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Build an HTTPS client on the test app of a manager with these setting overrides."""
    opened: list[httpx.AsyncClient] = []

    def factory(**overrides: Any) -> httpx.AsyncClient:
        c = client_for(make_app(make_manager(**overrides)))
        opened.append(c)
        return c

    yield factory
    for c in opened:
        await c.aclose()


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
