"""Fixtures of the HTTP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from tests.app import User, make_app
from tests.conftest import client_for
from tests.http.support import Tables


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
