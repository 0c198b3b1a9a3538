"""Fixtures of the attack suite: a logged-in victim (helpers are in `tests.support`)."""

from __future__ import annotations

import httpx
import pytest

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User
from tests.support.attacks import Victim
from tests.support.http import login


@pytest.fixture
async def victim(
    client: httpx.AsyncClient, user: User, manager: AuthManager[User], events: CapturingHook
) -> Victim:
    """Alice, logged in through /auth/login; the events of her login are cleared."""
    response = await login(client)
    assert response.status_code == 200, response.text
    await manager.drain_events()
    events.clear()
    return Victim(user=user, access=response.json()["access_token"], client=client)
