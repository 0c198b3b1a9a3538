"""Fresh (step-up) logins: `auth.fresh_user` and `POST /auth/fresh`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from freezegun import freeze_time

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import PASSWORD, bearer, login
from tests.support.tokens import claims

NOT_FRESH = "This action needs a recent login; re-enter your password."


async def test_login_token_is_fresh_and_passes_fresh_route(
    client: httpx.AsyncClient, user: User
) -> None:
    """The access token of a password login carries fresh=true and opens a fresh-only route."""
    token = (await login(client)).json()["access_token"]
    assert claims(token)["fresh"] is True
    response = await client.post("/change-email", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"id": user.id}


async def test_refreshed_token_is_refused_then_accepted_after_reauth(
    client: httpx.AsyncClient, user: User, manager: AuthManager[User], events: CapturingHook
) -> None:
    """A token minted by refresh is not fresh (401); /auth/fresh with the password fixes that."""
    body = (await login(client)).json()
    refreshed = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200
    stale = refreshed.json()["access_token"]
    assert "fresh" not in claims(stale)
    refused = await client.post("/change-email", headers=bearer(stale))
    assert refused.status_code == 401
    assert refused.json() == {"detail": NOT_FRESH}
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    step_up = await client.post("/auth/fresh", data={"password": PASSWORD}, headers=bearer(stale))
    assert step_up.status_code == 200
    assert step_up.headers["cache-control"] == "no-store"
    fresh = step_up.json()["access_token"]
    assert step_up.json()["token_type"] == "bearer"
    assert claims(fresh)["fresh"] is True
    assert claims(fresh)["sid"] == claims(stale)["sid"]
    assert (await client.post("/change-email", headers=bearer(fresh))).status_code == 200
    assert (await client.post("/change-email", headers=bearer(stale))).status_code == 401
    await manager.drain_events()
    issued = events.last("token.issued")
    assert issued.reason == "fresh_login"
    assert issued.token_id == claims(fresh)["jti"]


async def test_fresh_route_refuses_wrong_password(
    client: httpx.AsyncClient, user: User, manager: AuthManager[User], events: CapturingHook
) -> None:
    """A wrong password at /auth/fresh is 401 invalid_grant, counted as a failed login."""
    body = (await login(client)).json()
    response = await client.post(
        "/auth/fresh", data={"password": "wrong password"}, headers=bearer(body["access_token"])
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["reason"] == "bad_credentials"
    assert "access_token" not in response.json()
    await manager.drain_events()
    failed = events.last("login.failed")
    assert failed.user_id == str(user.id)
    assert failed.reason == "bad_credentials"


async def test_fresh_route_needs_a_token(client: httpx.AsyncClient, user: User) -> None:
    """POST /auth/fresh without a bearer token is 401 (the password alone is not enough)."""
    response = await client.post("/auth/fresh", data={"password": PASSWORD})
    assert response.status_code == 401
    assert response.json()["reason"] == "missing"


async def test_freshness_expires_after_fresh_token_minutes(
    client: httpx.AsyncClient, user: User
) -> None:
    """15 minutes after login the still-valid access token no longer passes the fresh route."""
    start = datetime.now(UTC)
    with freeze_time(start, real_asyncio=True) as frozen:
        token = (await login(client)).json()["access_token"]
        frozen.move_to(start + timedelta(minutes=14))
        assert (await client.post("/change-email", headers=bearer(token))).status_code == 200
        frozen.move_to(start + timedelta(minutes=16))
        assert (await client.get("/me", headers=bearer(token))).status_code == 200
        late = await client.post("/change-email", headers=bearer(token))
        assert late.status_code == 401
        assert late.json() == {"detail": NOT_FRESH}
