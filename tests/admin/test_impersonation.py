"""`impersonate`: one short access token with RFC 8693 `act`, never fresh, audited, listed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager._core.clock import utcnow
from authmanager._core.models import sessions, tokens
from authmanager.exceptions import RevokedTokenError
from authmanager.hooks import EventName
from authmanager.testing import TEST_SECRET, CapturingHook
from tests.apikeys.support import create_key, key_app
from tests.app import User
from tests.conftest import CreateUser, MakeManager, bearer, client_for

REASON = "ticket 4711: cannot see invoices"


@pytest.fixture
async def admin(create_user: CreateUser) -> User:
    return await create_user("admin@example.com", role="admin")


@pytest.fixture
async def client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(key_app(manager)) as c:
        yield c


def _claims(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token, TEST_SECRET, algorithms=["HS256"], options={"verify_aud": False}
    )
    return claims


async def _rows(factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with factory() as db:
        s = (await db.execute(select(func.count()).select_from(sessions))).scalar_one()
        t = (await db.execute(select(func.count()).select_from(tokens))).scalar_one()
    return int(s), int(t)


async def test_token_names_the_actor_and_acts_as_the_target(
    manager: AuthManager[User], user: User, admin: User, client: httpx.AsyncClient
) -> None:
    """`act: {"sub": actor}` (RFC 8693 §4.1), `sub` the target; it opens the target's routes."""
    token = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    assert isinstance(token, str)
    claims = _claims(token)
    assert claims["sub"] == str(user.id)
    assert claims["act"] == {"sub": str(admin.id)}
    assert claims["type"] == "access"
    assert "fresh" not in claims
    assert claims["role"] == "user"  # the target's claims, not the actor's
    payload = await manager.verify_token(token)
    assert payload.get("act") == {"sub": str(admin.id)}
    me = await client.get("/me", headers=bearer(token))
    assert me.json() == {"id": user.id, "email": user.email}


async def test_lifetime_is_short_and_capped_at_fifteen_minutes(
    make_manager: MakeManager, user: User, admin: User
) -> None:
    """Default: min(access lifetime, 15 min); 1 to 15 minutes allowed; more is a ValueError."""
    for minutes, default in ((30, 15), (5, 5)):
        manager = make_manager(access_token_expire_minutes=minutes)
        claims = _claims(await manager.impersonate(str(admin.id), str(user.id), reason=REASON))
        assert int(claims["exp"]) - int(claims["iat"]) == default * 60  # type: ignore[call-overload]
    manager = make_manager()
    short = await manager.impersonate(
        str(admin.id), str(user.id), reason=REASON, expires_in=timedelta(minutes=2)
    )
    assert int(_claims(short)["exp"]) - int(_claims(short)["iat"]) == 120  # type: ignore[call-overload]
    for bad in (timedelta(minutes=15, seconds=1), timedelta(0), timedelta(minutes=-1)):
        with pytest.raises(ValueError, match="15 minutes"):
            await manager.impersonate(str(admin.id), str(user.id), reason=REASON, expires_in=bad)


@pytest.mark.parametrize(
    ("actor", "target", "reason", "message"),
    [
        ("admin", "self", REASON, "themselves"),
        ("admin", "user", "", "reason"),
        ("admin", "user", "   ", "reason"),
        ("admin", "user", "x" * 501, "at most 500"),
        ("admin", "user", "line\nbreak", "control"),
        ("admin", "missing", REASON, "does not exist or is inactive"),
        ("admin", "inactive", REASON, "does not exist or is inactive"),
        ("", "user", REASON, "actor_id"),
    ],
)
async def test_bad_requests_are_refused_and_change_nothing(
    manager: AuthManager[User],
    user: User,
    admin: User,
    create_user: CreateUser,
    session_factory: async_sessionmaker[AsyncSession],
    events: CapturingHook,
    actor: str,
    target: str,
    reason: str,
    message: str,
) -> None:
    """Self-impersonation, no reason, a missing or inactive target: ValueError, no rows."""
    inactive = await create_user("gone@example.com", is_active=False)
    ids = {
        "admin": str(admin.id),
        "user": str(user.id),
        "self": str(admin.id),
        "missing": "999999",
        "inactive": str(inactive.id),
        "": "",
    }
    before = await _rows(session_factory)
    with pytest.raises(ValueError, match=message):
        await manager.impersonate(ids[actor], ids[target], reason=reason)
    assert await _rows(session_factory) == before
    await manager.drain_events()
    assert events.of(EventName.IMPERSONATION_STARTED) == []


async def test_no_refresh_token_and_never_fresh(
    manager: AuthManager[User], user: User, admin: User, client: httpx.AsyncClient
) -> None:
    """fresh_user, /fresh and POST /api-keys refuse it: no password change, no new key."""
    token = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    fresh_route = await client.post("/change-email", headers=bearer(token))
    assert fresh_route.status_code == 401, fresh_route.text
    assert fresh_route.json()["reason"] == "not_fresh"
    step_up = await client.post(
        "/auth/fresh", data={"password": "correct horse battery staple"}, headers=bearer(token)
    )
    assert step_up.status_code == 401, step_up.text
    assert step_up.json()["reason"] == "not_fresh"
    key = await create_key(client, token, "persist")
    assert key.status_code == 401, key.text
    assert await manager.list_api_keys(str(user.id)) == []
    refreshed = await client.post("/auth/refresh")
    assert refreshed.status_code == 401  # there is no refresh token to present


async def test_a_forged_fresh_mark_does_not_help(
    manager: AuthManager[User], user: User, admin: User, client: httpx.AsyncClient
) -> None:
    """Even a token that says fresh is refused by fresh_user when it carries `act`."""
    token = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    claims = _claims(token)
    header = jwt.get_unverified_header(token)
    forged = jwt.encode({**claims, "fresh": True}, TEST_SECRET, algorithm="HS256", headers=header)
    response = await client.post("/change-email", headers=bearer(forged))
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "not_fresh"


async def test_event_names_actor_and_reason_and_no_token(
    manager: AuthManager[User], user: User, admin: User, events: CapturingHook
) -> None:
    """`impersonation.started`: user_id the target, extra actor_id and reason; no token."""
    token = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    await manager.drain_events()
    started = events.last(EventName.IMPERSONATION_STARTED)
    payload = await manager.verify_token(token)
    assert (started.user_id, started.session_id, started.token_id) == (
        str(user.id),
        payload.sid,
        payload.jti,
    )
    assert started.extra == {"actor_id": str(admin.id), "reason": REASON}
    assert token not in repr(events.events)
    assert events.last(EventName.TOKEN_ISSUED).reason == "impersonation"


async def test_listed_in_the_targets_sessions_as_impersonated(
    manager: AuthManager[User], user: User, admin: User, client: httpx.AsyncClient
) -> None:
    """`list_sessions` and GET /sessions mark it `impersonated_by`; other sessions say None."""
    own = await manager.create_token_pair({"sub": str(user.id)})
    token = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    sid = (await manager.verify_token(token)).sid
    listed = {s.id: s.impersonated_by for s in await manager.list_sessions(str(user.id))}
    assert listed == {own.session_id: None, sid: str(admin.id)}
    response = await client.get("/auth/sessions", headers=bearer(own.access_token))
    body = {s["id"]: s["impersonated_by"] for s in response.json()}
    assert body == {own.session_id: None, sid: str(admin.id)}
    assert await manager.list_sessions(str(admin.id)) == []


async def test_ends_with_the_targets_logout_all(
    manager: AuthManager[User], user: User, admin: User, client: httpx.AsyncClient
) -> None:
    """The target's logout-all (or deleting that session) ends the impersonation at once."""
    own = await manager.create_token_pair({"sub": str(user.id)})
    token = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    response = await client.post("/auth/logout-all", headers=bearer(own.access_token))
    assert response.status_code == 200
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(token)
    assert (await client.get("/me", headers=bearer(token))).status_code == 401
    again = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    sid = (await manager.verify_token(again)).sid
    assert await manager.revoke_session(str(user.id), sid) is True
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(again)


async def test_deactivating_the_target_ends_it(
    manager: AuthManager[User], user: User, admin: User
) -> None:
    """`deactivate_user(target)` ends impersonation sessions like every other."""
    token = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    await manager.deactivate_user(str(user.id))
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(token)


async def test_expired_impersonation_leaves_the_list(
    manager: AuthManager[User],
    user: User,
    admin: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Past its end the session is neither listed nor usable."""
    token = await manager.impersonate(str(admin.id), str(user.id), reason=REASON)
    sid = (await manager.verify_token(token)).sid
    async with session_factory.begin() as db:
        await db.execute(
            update(sessions)
            .where(sessions.c.id == sid)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await manager.list_sessions(str(user.id)) == []
