"""Issue 11, the second reading: the same classes of defect, found on other paths.

Other finds of that reading have their tests beside the item they belong to: the
`refresh_token_from_cookie` dependency (test_hardening_csrf), the session routes and
the WebSocket watch (test_hardening_liveness), a PEM key as an HMAC secret
(test_hardening_keys), `X-Forwarded-For` garbage and a DPoP `jti` that is a lone
surrogate (test_hardening_headers).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import update

from authmanager import AuthManager, AuthSettings, ClientInfo
from authmanager._core.loginlimit import LoginLimiter
from authmanager._core.ratelimit import RateLimiter
from authmanager.exceptions import InvalidCredentialsError, RateLimitExceededError
from authmanager.hooks import EventName
from authmanager.testing import TEST_SECRET, CapturingHook, test_settings
from tests.app import User, make_app
from tests.attacks.hardening import raw_request
from tests.conftest import MakeManager, client_for, login
from tests.support.rows import snapshot


@pytest.mark.parametrize("session_id", ["\x00", "s\xe9ance", "a" * 65, "x'--"])
async def test_malformed_session_id_in_the_path_is_a_422(
    manager: AuthManager[User], user: User, session_factory: Any, session_id: str
) -> None:
    """`DELETE /sessions/<NUL>` was a 503 on PostgreSQL: now 422, and nothing changes."""
    app = make_app(manager)
    async with client_for(app) as client:
        access = (await login(client)).json()["access_token"]
    before = await snapshot(session_factory)
    headers = [(b"authorization", f"Bearer {access}".encode())]
    response = await raw_request(app, "DELETE", f"/auth/sessions/{session_id}", headers)
    assert response.status == 422, response.body
    assert response.json()["error"] == "invalid_request"
    assert await snapshot(session_factory) == before


async def test_one_ipv6_host_cannot_rotate_addresses_past_the_address_limit(
    make_manager: MakeManager, user: User
) -> None:
    """Each attempt from another address of one /64 counts against that /64."""
    manager = make_manager(login_ip_rate_limit="3/hour")
    app = make_app(manager)
    statuses = []
    for n in range(4):
        transport_client = (f"2001:db8:1:2::{n + 1:x}", 40000)
        async with client_for_ip(app, transport_client) as client:
            statuses.append((await login(client, f"name{n}@example.com", "guess")).status_code)
    assert statuses == [401, 401, 401, 429]
    async with client_for_ip(app, ("2001:db8:1:3::1", 40000)) as neighbour:
        assert (await login(neighbour)).status_code == 200  # another /64


def client_for_ip(app: Any, client: tuple[str, int]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def test_user_ids_that_differ_in_case_do_not_share_a_step_up_counter() -> None:
    """`Alice` failing `/fresh` five times does not limit `alice` (ids are not case-folded)."""
    limiter = LoginLimiter(test_settings(), RateLimiter("memory://"))
    for _ in range(5):
        async with limiter.attempt(ip="192.0.2.1", user_id="Alice") as attempt:
            await limiter.check(attempt)
            await limiter.failed(attempt)
    async with limiter.attempt(ip="192.0.2.1", user_id="Alice") as attempt:
        with pytest.raises(RateLimitExceededError):
            await limiter.check(attempt)
    async with limiter.attempt(ip="192.0.2.1", user_id="alice") as attempt:
        await limiter.check(attempt)  # passes


async def test_a_session_never_starts_for_an_inactive_user(
    manager: AuthManager[User],
    user: User,
    session_factory: Any,
    events: CapturingHook,
) -> None:
    """The sign-in seam (`start`, for links, passkeys, providers) applies the one rule too."""
    async with session_factory() as db, db.begin():
        await db.execute(update(User).where(User.id == user.id).values(is_active=False))
    user.is_active = False
    before = await snapshot(session_factory)
    with pytest.raises(InvalidCredentialsError) as caught:
        await manager._sessions.start(user, client=ClientInfo(ip_address="192.0.2.5"), amr=["otp"])
    assert caught.value.reason == "bad_credentials"
    assert await snapshot(session_factory) == before
    await manager.drain_events()
    assert [(e.name, e.reason) for e in events.events] == [
        (EventName.LOGIN_FAILED, "user_inactive")
    ]


def test_refresh_and_csrf_cookies_may_not_share_a_name() -> None:
    """A CSRF cookie (readable by the page) named like the refresh cookie would expose it."""
    with pytest.raises(ValidationError, match="must differ"):
        AuthSettings(secret_key=TEST_SECRET, csrf_cookie_name="refresh_token")
