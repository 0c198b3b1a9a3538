"""Helpers of the attack suite: a logged-in victim, forgeries, DB snapshots, event checks.

Every attack asserts three things: the HTTP answer, that the token store did not
change where it must not (`snapshot`), and the event the library reported.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager._core.models import sessions, tokens
from authmanager.hooks import AuthEvent, EventName
from authmanager.testing import TEST_SECRET, CapturingHook
from tests.app import User
from tests.conftest import bearer, login


def b64(data: bytes | str) -> str:
    """Unpadded base64url, as in JWS compact form."""
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of *token*, unverified."""
    head, body, _ = token.split(".")
    return json.loads(unb64(head)), json.loads(unb64(body))


def forge(
    claims: dict[str, Any],
    header: dict[str, Any],
    *,
    key: Any = TEST_SECRET,
    algorithm: str = "HS256",
) -> str:
    """Sign *claims* with *algorithm*; the other header members come from *header*."""
    extra = {k: v for k, v in header.items() if k != "alg"}
    return jwt.encode(claims, key, algorithm=algorithm, headers=extra)


def resign(token: str, *, drop: tuple[str, ...] = (), **changes: Any) -> str:
    """Re-sign a real token with the real test secret after editing its claims.

    This is the attacker who holds the signing secret (or a library bug that lets a
    claim through): each claim check must still refuse on its own.
    """
    header, claims = parts(token)
    for name in drop:
        claims.pop(name, None)
    claims.update(changes)
    return forge(claims, header)


def hand_sign(header: dict[str, Any], claims: dict[str, Any], key: bytes | str) -> str:
    """HS256 by hand, for headers or keys PyJWT refuses to produce (empty key, odd kid)."""
    secret = key.encode() if isinstance(key, str) else key
    unsigned = compact({**header, "alg": "HS256"}, claims, "")
    mac = hmac.new(secret, unsigned[:-1].encode(), hashlib.sha256).digest()
    return unsigned + b64(mac)


def compact(header: dict[str, Any] | bytes, claims: dict[str, Any] | bytes, sig: str) -> str:
    """Assemble a token by hand from raw parts."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    c = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    return f"{b64(h)}.{b64(c)}.{sig}"


@dataclass(frozen=True)
class Snapshot:
    """Counts of rows and of revoked rows in the token tables."""

    tokens: int
    revoked_tokens: int
    sessions: int
    revoked_sessions: int


async def snapshot(factory: async_sessionmaker[AsyncSession]) -> Snapshot:
    async with factory() as db:

        async def count(table: Any, revoked: bool) -> int:
            query = select(func.count()).select_from(table)
            if revoked:
                query = query.where(table.c.revoked_at.is_not(None))
            return int((await db.execute(query)).scalar_one())

        return Snapshot(
            await count(tokens, False),
            await count(tokens, True),
            await count(sessions, False),
            await count(sessions, True),
        )


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


async def rejected(manager: AuthManager[Any], events: CapturingHook, reason: str) -> AuthEvent:
    """Assert that exactly one `token.rejected` event was reported, for *reason*."""
    await manager.drain_events()
    found = events.of(EventName.TOKEN_REJECTED)
    assert [e.reason for e in found] == [reason], events.names()
    return found[0]


async def nothing_reported(manager: AuthManager[Any], events: CapturingHook) -> None:
    """Assert that no token was issued, refreshed or revoked."""
    await manager.drain_events()
    quiet = {
        EventName.TOKEN_ISSUED,
        EventName.TOKEN_REFRESHED,
        EventName.TOKEN_REVOKED,
        EventName.LOGIN_SUCCEEDED,
    }
    assert not [e for e in events.events if e.name in quiet], events.names()


def assert_401(response: httpx.Response, reason: str) -> None:
    """A 401 with the bearer challenge and the stable reason in the JSON body."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert "Traceback" not in response.text
    if "reason" in body:
        assert body["reason"] == reason
