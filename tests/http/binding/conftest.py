"""Fixtures of the binding tests: a manager handing out the refresh token in the body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from authmanager import AuthManager
from tests.app import User, make_app
from tests.conftest import MakeManager, client_for


@pytest.fixture
def manager(make_manager: MakeManager) -> AuthManager[User]:
    """The test manager, with the refresh token in the body (a public API client)."""
    return make_manager(refresh_token_transport="body")


@pytest.fixture
async def client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(manager)) as c:
        yield c
