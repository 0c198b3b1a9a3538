"""`AUTH_MAX_SESSIONS_PER_USER`: a login past the cap ends the least recently used session.

The cap holds under concurrent logins on SQLite and PostgreSQL: 10 logins at once never
leave, nor at any moment show, more live sessions than the cap.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager, TokenPair
from authmanager._core.clock import utcnow
from authmanager._core.models import sessions
from authmanager.exceptions import RevokedTokenError
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook, test_settings
from tests.app import User, make_app
from tests.conftest import CreateUser, MakeManager, client_for, csrf_headers, login

CONCURRENT = 10


async def _live(factory: async_sessionmaker[AsyncSession], user_id: str) -> int:
    """Live login sessions of the user, counted in SQL (not through the library)."""
    now = utcnow()
    async with factory() as db:
        query = (
            select(func.count())
            .select_from(sessions)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > now,
                sessions.c.refresh_expires_at > now,
            )
        )
        return int((await db.execute(query)).scalar_one())


async def _pair(manager: AuthManager[User], user: User) -> TokenPair:
    return await manager.create_token_pair({"sub": str(user.id)})


async def test_login_past_the_cap_ends_the_oldest_session(
    make_manager: MakeManager,
    create_user: CreateUser,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Cap 2, three logins: the first session ends (tokens refused), `session.evicted` says so."""
    manager = make_manager(max_sessions_per_user=2)
    user = await create_user()
    first, second, third = [await _pair(manager, user) for _ in range(3)]
    assert await _live(session_factory, str(user.id)) == 2
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(first.access_token)
    with pytest.raises(RevokedTokenError):
        await manager.refresh(first.refresh_token)
    for kept in (second, third):
        assert (await manager.verify_token(kept.access_token)).sid == kept.session_id
    await manager.drain_events()
    [evicted] = events.of(EventName.SESSION_EVICTED)
    assert (evicted.user_id, evicted.session_id, evicted.reason) == (
        str(user.id),
        first.session_id,
        "evicted",
    )
    assert evicted.extra == {"limit": 2, "new_session_id": third.session_id}
    listed = {s.id for s in await manager.list_sessions(str(user.id))}
    assert listed == {second.session_id, third.session_id}


async def test_the_least_recently_used_session_goes_first(
    make_manager: MakeManager, create_user: CreateUser
) -> None:
    """A refresh makes a session recent: the one not used since goes, not the oldest."""
    manager = make_manager(max_sessions_per_user=2)
    user = await create_user()
    old = await _pair(manager, user)
    idle = await _pair(manager, user)
    old = await manager.refresh(old.refresh_token)  # used after `idle` was created
    await _pair(manager, user)
    assert (await manager.verify_token(old.access_token)).sid == old.session_id
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(idle.access_token)


async def test_without_a_cap_sessions_are_not_limited(
    manager: AuthManager[User],
    user: User,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The default (no cap): twelve logins, twelve live sessions, no eviction."""
    assert manager.settings.max_sessions_per_user is None
    for _ in range(12):
        await _pair(manager, user)
    assert await _live(session_factory, str(user.id)) == 12
    await manager.drain_events()
    assert events.of(EventName.SESSION_EVICTED) == []


async def test_the_cap_is_per_user(
    make_manager: MakeManager,
    create_user: CreateUser,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """One user's logins never evict another user's sessions."""
    manager = make_manager(max_sessions_per_user=1)
    alice, bob = await create_user(), await create_user("bob@example.com")
    bobs = await _pair(manager, bob)
    for _ in range(3):
        await _pair(manager, alice)
    assert (await manager.verify_token(bobs.access_token)).sub == str(bob.id)
    assert await _live(session_factory, str(alice.id)) == 1


async def test_service_tokens_and_impersonation_neither_count_nor_go(
    make_manager: MakeManager, create_user: CreateUser, events: CapturingHook
) -> None:
    """Sessions without a refresh token are not login sessions: the cap ignores them."""
    manager = make_manager(max_sessions_per_user=1)
    user, admin = await create_user(), await create_user("admin@example.com")
    service = await manager.create_access_token({"sub": str(user.id)})
    login_pair = await _pair(manager, user)
    acting = await manager.impersonate(str(admin.id), str(user.id), reason="support")
    newer = await _pair(manager, user)
    assert (await manager.verify_token(service)).sub == str(user.id)
    assert (await manager.verify_token(acting)).sub == str(user.id)
    assert (await manager.verify_token(newer.access_token)).sid == newer.session_id
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(login_pair.access_token)
    await manager.drain_events()
    assert [e.session_id for e in events.of(EventName.SESSION_EVICTED)] == [login_pair.session_id]


async def test_login_route_evicts_and_the_evicted_browser_is_signed_out(
    make_manager: MakeManager, create_user: CreateUser
) -> None:
    """Over HTTP: the second login (cap 1) ends the first; its refresh is then 401."""
    manager = make_manager(max_sessions_per_user=1)
    await create_user()
    app = make_app(manager)
    async with client_for(app) as first, client_for(app) as second:
        assert (await login(first)).status_code == 200
        assert (await login(second)).status_code == 200
        refused = await first.post("/auth/refresh", headers=csrf_headers(first))
        kept = await second.post("/auth/refresh", headers=csrf_headers(second))
    assert refused.status_code == 401, refused.text
    assert kept.status_code == 200, kept.text


async def _watch(
    factory: async_sessionmaker[AsyncSession], user_id: str, stop: asyncio.Event
) -> int:
    """Count the live sessions again and again until *stop*; return the most seen."""
    most = 0
    while not stop.is_set():
        most = max(most, await _live(factory, user_id))
        await asyncio.sleep(0)
    return max(most, await _live(factory, user_id))


@pytest.mark.parametrize("cap", [1, 3])
async def test_ten_concurrent_logins_never_pass_the_cap(
    make_manager: MakeManager,
    create_user: CreateUser,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
    database: str,
    cap: int,
) -> None:
    """10 logins at once (3 rounds): never more live sessions than the cap, at any moment."""
    manager = make_manager(max_sessions_per_user=cap)
    user = await create_user()
    uid = str(user.id)
    for round_ in range(3):
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch(session_factory, uid, stop))
        pairs = await asyncio.gather(*[_pair(manager, user) for _ in range(CONCURRENT)])
        stop.set()
        most = await watcher
        final = await _live(session_factory, uid)
        assert most <= cap, f"round {round_}: {most} live sessions seen, cap {cap}"
        assert final == cap
        alive = 0
        for pair in pairs:
            try:
                await manager.verify_token(pair.access_token)
                alive += 1
            except RevokedTokenError:
                pass
        assert alive <= cap
    await manager.drain_events()
    evicted = events.of(EventName.SESSION_EVICTED)
    assert len(evicted) == 3 * CONCURRENT - cap
    assert len({e.session_id for e in evicted}) == len(evicted)
    print(  # the figures of the closing note (pytest -s)
        f"\nsession cap [{database.split(':')[0]}]: cap={cap}, 3 rounds x {CONCURRENT} "
        f"concurrent logins, most live seen={most}, final={final}, evicted={len(evicted)}"
    )


async def test_ten_concurrent_http_logins_never_pass_the_cap(
    make_manager: MakeManager,
    create_user: CreateUser,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The same through `/login` (password checks included): cap 2, 10 at once, 2 left."""
    manager = make_manager(max_sessions_per_user=2)
    user = await create_user()
    async with client_for(make_app(manager)) as client:

        async def one() -> httpx.Response:
            return await client.post(
                "/auth/login",
                data={"username": user.email, "password": "correct horse battery staple"},
            )

        answers = await asyncio.gather(*[one() for _ in range(CONCURRENT)])
    assert [a.status_code for a in answers] == [200] * CONCURRENT
    assert await _live(session_factory, str(user.id)) == 2


def test_the_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`AUTH_MAX_SESSIONS_PER_USER=5` sets the cap; empty means no cap; 0 is refused."""
    monkeypatch.setenv("AUTH_MAX_SESSIONS_PER_USER", "5")
    assert test_settings().max_sessions_per_user == 5
    monkeypatch.setenv("AUTH_MAX_SESSIONS_PER_USER", "")
    assert test_settings().max_sessions_per_user is None
    monkeypatch.setenv("AUTH_MAX_SESSIONS_PER_USER", "0")
    with pytest.raises(ValidationError):
        test_settings()
