"""The attack suite's victim and its refusal check.

Every attack asserts three things: the HTTP answer (`assert_401`), that the token store
did not change where it must not (`tests.support.rows.snapshot`), and the event the
library reported (`tests.support.events.rejected`, `nothing_reported`).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.app import User
from tests.support.http import bearer


@dataclass
class Victim:
    """A logged-in user: the access token, and the client holding the refresh cookie."""

    user: User
    access: str
    client: httpx.AsyncClient

    async def still_works(self) -> None:
        """The victim's access token is still accepted."""
        response = await self.client.get("/me", headers=bearer(self.access))
        assert response.status_code == 200, response.text
        assert response.json()["id"] == self.user.id


def assert_401(response: httpx.Response, reason: str) -> None:
    """A 401 with the bearer challenge and the stable reason in the JSON body."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert "Traceback" not in response.text
    if "reason" in body:
        assert body["reason"] == reason
