"""A refresh whose answer was lost: the retry gets the same successor (RFC 9700 §4.14).

The rotation committed, the answer never reached the client (a dropped connection, a
restart after the commit), and the client presents the same refresh token again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager, RevokedTokenError
from authmanager.exceptions import Reason
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import csrf_headers, login
from tests.support.clock import T0, frozen
from tests.support.factories import claims
from tests.support.rows import session_rows, token_rows

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def test_a_retry_within_the_grace_gets_the_same_successor(
    manager: AuthManager[User], user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The same refresh token again, its successor unused: the same successor, a new access."""
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user))
        clock.tick(timedelta(seconds=30))
        first = await manager.refresh(pair.refresh_token)  # committed; the answer is lost
        clock.tick(timedelta(seconds=2))
        retried = await manager.refresh(pair.refresh_token)
        assert retried.refresh_token == first.refresh_token  # the very same token
        assert retried.access_token != first.access_token
        assert retried.session_id == pair.session_id
        assert (await manager.verify_token(retried.access_token)).sid == pair.session_id
        rows = await token_rows(session_factory, session_id=pair.session_id, type="refresh")
        assert len(rows) == 2  # no second successor: the session does not fork
        newer = await manager.refresh(retried.refresh_token)
        await manager.verify_token(newer.access_token)


async def test_a_thief_who_retries_gains_nothing_reuse_detection_would_not_catch(
    manager: AuthManager[User],
    user: User,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Whoever uses the shared successor second ends the session."""
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user))
        clock.tick(timedelta(seconds=30))
        legitimate = await manager.refresh(pair.refresh_token)
        stolen = await manager.refresh(pair.refresh_token)  # the thief, within the grace
        assert stolen.refresh_token == legitimate.refresh_token
        moved_on = await manager.refresh(legitimate.refresh_token)
        clock.tick(timedelta(seconds=manager.settings.refresh_reuse_grace_seconds + 1))
        with pytest.raises(RevokedTokenError) as reused:
            await manager.refresh(stolen.refresh_token)
        assert reused.value.reason == Reason.REUSED_REFRESH
        for access in (stolen.access_token, moved_on.access_token):
            with pytest.raises(RevokedTokenError):
                await manager.verify_token(access)
    (row,) = await session_rows(session_factory, id=pair.session_id)
    assert row.revoke_reason == "reuse_detected"
    await manager.drain_events()
    assert events.last("refresh.reuse_detected").session_id == pair.session_id
    retried = [e for e in events.of("token.refreshed") if e.reason == "retry"]
    assert len(retried) == 1


async def test_no_retry_after_the_grace_or_once_the_successor_is_gone(
    manager: AuthManager[User], user: User
) -> None:
    """Past the grace it is reuse (the session ends); a revoked successor is never given."""
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user))
        clock.tick(timedelta(seconds=30))
        first = await manager.refresh(pair.refresh_token)
        assert await manager.revoke_token(first.access_token)  # access only: session lives
        other = await manager.create_token_pair(claims(user))
        await manager.refresh(other.refresh_token)
        assert await manager.revoke_session(str(user.id), other.session_id)
        with pytest.raises(RevokedTokenError):
            await manager.refresh(other.refresh_token)  # successor's session ended
        clock.tick(timedelta(seconds=manager.settings.refresh_reuse_grace_seconds + 1))
        with pytest.raises(RevokedTokenError) as late:
            await manager.refresh(pair.refresh_token)
        assert late.value.reason == Reason.REUSED_REFRESH


class DropAnswer:
    """An ASGI wrapper that runs the app but loses the first answer of /auth/refresh.

    The app finishes (its transaction commits); the client sees a broken connection.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.dropped = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/auth/refresh" and not self.dropped:
            self.dropped += 1

            async def lose(_message: MutableMapping[str, Any]) -> None:
                return None

            await self.app(scope, receive, lose)
            raise ConnectionResetError("the answer was lost after the commit")
        await self.app(scope, receive, send)


async def test_over_http_a_refresh_whose_answer_was_dropped_keeps_the_session(
    manager: AuthManager[User], user: User
) -> None:
    """The browser retries with the cookie it still has: 200, and the session goes on."""
    wrapper = DropAnswer(make_app(manager))
    transport = httpx.ASGITransport(app=wrapper)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        assert (await login(client)).status_code == 200
        before = client.cookies.get("refresh_token")
        with pytest.raises(ConnectionResetError):
            await client.post("/auth/refresh", headers=csrf_headers(client))
        assert wrapper.dropped == 1
        assert client.cookies.get("refresh_token") == before  # no Set-Cookie arrived
        retry = await client.post("/auth/refresh", headers=csrf_headers(client))
        assert retry.status_code == 200, retry.text
        access = retry.json()["access_token"]
        assert (await client.get("/me", headers={"Authorization": f"Bearer {access}"})).json()[
            "id"
        ] == user.id
        again = await client.post("/auth/refresh", headers=csrf_headers(client))
        assert again.status_code == 200, again.text
