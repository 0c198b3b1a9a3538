"""The account capability on `AuthManager` itself: action tokens, wiring, maintenance."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager, install_exception_handlers
from authmanager._core.clock import utcnow
from authmanager.accounts import (
    ActionToken,
    EmailNotVerifiedError,
    PasswordPolicyError,
    Purpose,
)
from authmanager.accounts.tables import action_tokens
from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason
from authmanager.testing import CapturingHook, CapturingSender, test_settings
from tests.accounts.http_support import AccountApp, MakeAccountApp
from tests.accounts.support import AccountUsers
from tests.app import User
from tests.conftest import PASSWORD, CreateUser, MakeManager, client_for

HOUR = timedelta(hours=1)
ACCOUNT_ROUTES = {
    "/register",
    "/verify-email/request",
    "/verify-email",
    "/password/forgot",
    "/password/reset",
    "/email/change",
    "/email/confirm",
    "/login-link",
    "/login-link/confirm",
}


async def test_action_token_is_opaque_hashed_bound_and_single_use(
    account_app: AccountApp,
) -> None:
    """≥128 random bits, only its SHA-256 stored, one purpose, once; data comes back."""
    manager = account_app.manager
    token = await manager.create_action_token("7", "invite", expires_in=HOUR, data={"team": 3})
    assert len(token) >= 22  # 128 bits of URL-safe base64 at the very least
    (row,) = await account_app.token_rows()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(tuple(row))
    with pytest.raises(InvalidTokenError) as wrong:
        await manager.consume_action_token(token, "reset_password")
    assert wrong.value.reason == Reason.WRONG_TYPE
    used = await manager.consume_action_token(token, "invite")
    assert isinstance(used, ActionToken)
    assert (used.user_id, used.purpose, dict(used.data)) == ("7", "invite", {"team": 3})
    assert used.created_at.tzinfo is not None
    with pytest.raises(InvalidTokenError) as again:
        await manager.consume_action_token(token, "invite")
    assert again.value.reason == Reason.TOKEN_USED


async def test_action_token_expires_and_a_new_one_ends_the_earlier(
    account_app: AccountApp,
) -> None:
    """A token past expiry is ExpiredTokenError; issuing again ends the user's earlier one."""
    manager = account_app.manager
    first = await manager.create_action_token("7", "invite", expires_in=HOUR)
    second = await manager.create_action_token("7", "invite", expires_in=HOUR)
    other_user = await manager.create_action_token("8", "invite", expires_in=HOUR)
    with pytest.raises(InvalidTokenError) as ended:
        await manager.consume_action_token(first, "invite")
    assert ended.value.reason == Reason.UNKNOWN_TOKEN
    async with account_app.factory.begin() as db:
        await db.execute(update(action_tokens).values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(ExpiredTokenError):
        await manager.consume_action_token(second, "invite")
    with pytest.raises(ExpiredTokenError):
        await manager.consume_action_token(other_user, "invite")


@pytest.mark.parametrize("run", range(5), ids=lambda r: f"run{r + 1}")
async def test_of_twenty_concurrent_consumers_through_the_manager_one_wins(
    account_app: AccountApp, run: int
) -> None:
    """Twenty `consume_action_token` calls at once: exactly one ActionToken, 19 token_used."""
    manager = account_app.manager
    token = await manager.create_action_token(f"u{run}", "login_link", expires_in=HOUR)
    results = await asyncio.gather(
        *(manager.consume_action_token(token, "login_link") for _ in range(20)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, ActionToken)]
    losers = [r for r in results if isinstance(r, InvalidTokenError)]
    assert (len(winners), len(losers)) == (1, 19), results
    assert {e.reason for e in losers} == {Reason.TOKEN_USED}


async def test_of_twenty_concurrent_link_confirmations_one_session_starts(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """Twenty POST /login-link/confirm of one link at once: one 200, nineteen 400."""
    app = make_account_app(account_rate_limit="")
    user = await create_user("alice@example.com")
    await app.post("/login-link", json={"login": "alice@example.com"})
    token = await app.token(Purpose.LOGIN_LINK)
    answers = await asyncio.gather(
        *(app.post("/login-link/confirm", json={"token": token}) for _ in range(20))
    )
    assert sorted(a.status_code for a in answers) == [200] + [400] * 19
    assert len(await app.manager.list_sessions(str(user.id))) == 1


async def test_purge_expired_deletes_expired_action_tokens_too(account_app: AccountApp) -> None:
    """purge_expired counts the action tokens past expiry, used or not; live ones stay."""
    manager = account_app.manager
    live = await manager.create_action_token("1", "invite", expires_in=HOUR)
    await manager.create_action_token("2", "invite", expires_in=HOUR)
    used = await manager.create_action_token("3", "invite", expires_in=HOUR)
    await manager.consume_action_token(used, "invite")
    async with account_app.factory.begin() as db:
        await db.execute(
            update(action_tokens)
            .where(action_tokens.c.user_id.in_(["2", "3"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await manager.purge_expired() == 2
    assert [r.user_id for r in await account_app.token_rows()] == ["1"]
    assert (await manager.consume_action_token(live, "invite")).user_id == "1"


async def test_without_a_sender_no_account_route_and_flows_say_what_to_do(
    manager: AuthManager[User], create_user: CreateUser
) -> None:
    """No sender: the routes are absent, the flows raise TypeError; action tokens work."""
    paths = {route.path for route in manager.router.routes}  # type: ignore[attr-defined]
    assert paths.isdisjoint(ACCOUNT_ROUTES)
    with pytest.raises(TypeError, match="sender="):
        await manager.request_password_reset("alice@example.com")
    user = await create_user("alice@example.com")
    with pytest.raises(TypeError, match="sender="):
        await manager.request_email_verification(user)
    token = await manager.create_action_token(str(user.id), "invite", expires_in=HOUR)
    assert (await manager.consume_action_token(token, "invite")).user_id == str(user.id)


async def test_with_a_sender_every_account_route_is_mounted(account_app: AccountApp) -> None:
    """A sender and a loader with create_user: the nine routes, each documenting its errors."""
    paths = {route.path for route in account_app.manager.router.routes}  # type: ignore[attr-defined]
    assert paths >= ACCOUNT_ROUTES
    app = FastAPI()
    app.include_router(account_app.manager.router, prefix="/auth")
    spec = app.openapi()["paths"]
    for path in ACCOUNT_ROUTES:
        responses = spec[f"/auth{path}"]["post"]["responses"]
        assert {"429", "503"} <= set(responses), path
        if path.endswith(("confirm", "/verify-email", "/reset")):
            assert "400" in responses, path


async def test_authenticate_refuses_an_unverified_user_when_required(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """The rule holds for `authenticate` as for /login: after the password, not before."""
    app = make_account_app(require_verified_email=True)
    await create_user("alice@example.com")
    with pytest.raises(EmailNotVerifiedError):
        await app.manager.authenticate("alice@example.com", PASSWORD)


async def test_rule_applies_without_a_sender_too(
    make_manager: MakeManager, create_user: CreateUser
) -> None:
    """AUTH_REQUIRE_VERIFIED_EMAIL without a sender still refuses unverified users."""
    manager = make_manager(require_verified_email=True)
    await create_user("alice@example.com")
    with pytest.raises(EmailNotVerifiedError):
        await manager.authenticate("alice@example.com", PASSWORD)


async def test_change_password_applies_the_policy(
    session_factory: async_sessionmaker[AsyncSession],
    create_user: CreateUser,
    events: CapturingHook,
) -> None:
    """change_password refuses a short password (PasswordPolicyError, a ValueError); an app
    route with install_exception_handlers answers 422 naming the rule."""
    manager: AuthManager[User] = AuthManager(
        settings=test_settings(password_min_length=10),
        session_factory=session_factory,
        user_loader=AccountUsers(),
        hooks=[events],
    )
    user = await create_user("alice@example.com")
    with pytest.raises(PasswordPolicyError) as caught:
        await manager.change_password(user, "too short")
    assert isinstance(caught.value, ValueError)
    assert caught.value.rule == "min_length"
    app = FastAPI()
    install_exception_handlers(app)
    app.include_router(manager.router, prefix="/auth")

    @app.post("/password")
    async def change(body: dict[str, str], me: Any = Depends(manager.current_user)) -> int:
        return await manager.change_password(me, body["new_password"])

    async with client_for(app) as client:
        login = await client.post(
            "/auth/login", data={"username": "alice@example.com", "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        response = await client.post("/password", json={"new_password": "short"}, headers=headers)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "The password must be at least 10 characters long.",
        "error": "invalid_request",
        "reason": "password_policy",
        "rule": "min_length",
    }
    await manager.aclose()


async def test_drain_events_waits_for_the_outbox(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """drain_events: the message is sent and its event delivered when it returns."""
    await create_user("alice@example.com")
    await account_app.manager.request_login_link("alice@example.com")
    assert account_app.captured.messages == []
    await account_app.manager.drain_events()
    assert len(account_app.captured.messages) == 1
    assert account_app.events.of("login_link.sent")


async def test_aclose_sends_pending_messages_and_closes_the_redis_pool(
    session_factory: async_sessionmaker[AsyncSession], create_user: CreateUser, redis_url: str
) -> None:
    """aclose: the outbox is drained, then the Redis pool of the limits is closed."""
    url = redis_url
    sender = CapturingSender()
    manager: AuthManager[User] = AuthManager(
        settings=test_settings(rate_limit_storage_url=url, sender_timeout_seconds=2.0),
        session_factory=session_factory,
        user_loader=AccountUsers(),
        sender=sender,
    )
    await create_user("alice@example.com")
    await manager.reset_rate_limits()  # counts left in this Redis database by earlier runs
    await manager.request_login_link("alice@example.com")
    await manager.aclose()
    assert [m.purpose for m in sender.messages] == [Purpose.LOGIN_LINK]
    # Closed on this loop: nothing is left for the garbage collector (filterwarnings=error).
    await manager.aclose()  # and closing twice is harmless


async def test_http_client_sees_no_account_route_without_a_sender(
    manager: AuthManager[User],
) -> None:
    """Over HTTP too: POST /auth/password/forgot is 404 without a sender."""
    app = FastAPI()
    app.include_router(manager.router, prefix="/auth")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        response = await client.post("/auth/password/forgot", json={"login": "a@example.com"})
    assert response.status_code == 404
