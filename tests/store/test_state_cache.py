"""The state cache (on by default): hits cost no statement, revocations drop only their own.

Every test runs on SQLite and PostgreSQL. On PostgreSQL the default is `postgres` mode,
which bypasses the cache until its LISTEN connection is up: `cached_token` waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager import AuthManager, RevokedTokenError
from authmanager._core import statecache
from authmanager._core.models import tokens
from tests.app import User, make_app
from tests.conftest import MakeManager, bearer, client_for, login
from tests.support.factories import claims
from tests.support.spies import counting
from tests.support.statecache import cached_token, refused, served_from_cache


async def test_on_by_default(manager: AuthManager[User], engine: AsyncEngine, user: User) -> None:
    """`auto`: `local` on SQLite, `postgres` on PostgreSQL; a hit sends no statement."""
    assert manager.settings.state_cache == "auto"
    token = (await manager.create_token_pair(claims(user))).access_token
    with counting(engine) as first:
        await manager.verify_token(token)
    assert first.sent == ["SELECT"]
    await served_from_cache(manager, engine, token)


async def test_off_asks_the_database_every_time(
    make_manager: MakeManager, engine: AsyncEngine, user: User
) -> None:
    auth = make_manager(state_cache="off")
    token = (await auth.create_token_pair(claims(user))).access_token
    for _ in range(3):
        with counting(engine) as sent:
            await auth.verify_token(token)
        assert sent.sent == ["SELECT"]


async def test_current_user_is_one_round_trip_hit_or_miss(
    manager: AuthManager[User], engine: AsyncEngine, user: User
) -> None:
    """`current_user` with the ready loader: state and user in one SELECT; a hit reads the user."""
    async with client_for(make_app(manager)) as client:
        token = (await manager.create_token_pair(claims(user))).access_token
        with counting(engine) as miss:
            assert (await client.get("/me", headers=bearer(token))).status_code == 200
        assert miss.sent == ["SELECT"]
        await served_from_cache(manager, engine, token)
        with counting(engine) as hit:
            assert (await client.get("/me", headers=bearer(token))).status_code == 200
        assert hit.sent == ["SELECT"]


async def test_current_user_refuses_a_deactivated_user_on_a_hit(
    manager: AuthManager[User],
    engine: AsyncEngine,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The user row is read on every request: `is_active=False` is seen at once."""
    async with client_for(make_app(manager)) as client:
        token = await cached_token(manager, engine, user)
        async with session_factory() as db, db.begin():
            await db.execute(update(User).values(is_active=False))
        assert (await client.get("/me", headers=bearer(token))).status_code == 401


async def test_refresh_tokens_and_caller_sessions_bypass(
    manager: AuthManager[User],
    engine: AsyncEngine,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Refresh tokens, and reads in a caller's session, always go to the database."""
    pair = await manager.create_token_pair(claims(user))
    await served_from_cache(manager, engine, pair.access_token)
    for _ in range(2):
        with counting(engine) as sent:
            await manager.verify_token(pair.refresh_token, token_type="refresh")
        assert len(sent) == 1
    for _ in range(2):
        async with session_factory() as db:
            with counting(engine) as sent:
                await manager.verify_token(pair.access_token, session=db)
            assert len(sent) >= 1


@pytest.mark.parametrize(
    "revoke",
    ["token", "session", "user", "password", "logout"],
)
async def test_each_revocation_is_refused_on_the_next_request(
    manager: AuthManager[User], engine: AsyncEngine, user: User, revoke: str
) -> None:
    """Whatever ends the token, the next verification refuses it."""
    token = await cached_token(manager, engine, user)
    payload = await manager.verify_token(token)
    if revoke == "token":
        assert await manager.revoke_token(token)
    elif revoke == "session":
        assert await manager.revoke_session(str(user.id), payload.sid)
    elif revoke == "user":
        assert await manager.revoke_all_user_tokens(str(user.id)) >= 1
    elif revoke == "password":
        assert await manager.change_password(user, "a brand new passphrase 2024") >= 1
    else:
        async with client_for(make_app(manager)) as client:
            assert (await client.post("/auth/logout", headers=bearer(token))).status_code == 200
    await refused(manager, token)


async def test_a_revocation_drops_only_the_states_it_concerns(
    make_manager: MakeManager, engine: AsyncEngine, user: User
) -> None:
    """Ending one session leaves every other session's state cached (no statement)."""
    auth = make_manager()
    tokens_ = [await cached_token(auth, engine, user) for _ in range(20)]
    victim = await auth.verify_token(tokens_[0])
    assert await auth.revoke_session(str(user.id), victim.sid)
    await refused(auth, tokens_[0])
    with counting(engine) as sent:
        for token in tokens_[1:]:
            await auth.verify_token(token)
    assert sent.sent == []


async def test_refresh_reuse_detection(
    make_manager: MakeManager, engine: AsyncEngine, user: User
) -> None:
    """A replayed refresh token ends the session: its cached access token dies with it."""
    auth = make_manager(refresh_reuse_grace_seconds=0)
    pair = await auth.create_token_pair(claims(user))
    await asyncio.sleep(0.01)
    new = await auth.refresh(pair.refresh_token)
    await served_from_cache(auth, engine, new.access_token)
    await asyncio.sleep(0.01)
    with pytest.raises(RevokedTokenError):
        await auth.refresh(pair.refresh_token)
    await refused(auth, new.access_token)


async def test_logout_over_http(
    manager: AuthManager[User], engine: AsyncEngine, user: User
) -> None:
    """`POST /auth/logout` refuses the access token on the very next request."""
    async with client_for(make_app(manager)) as client:
        token = (await login(client)).json()["access_token"]
        await served_from_cache(manager, engine, token)
        assert (await client.post("/auth/logout", headers=bearer(token))).status_code == 200
        assert (await client.get("/claims", headers=bearer(token))).status_code == 401


async def test_revocation_in_a_callers_session(
    manager: AuthManager[User],
    engine: AsyncEngine,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A revocation inside the caller's transaction is refused once that transaction commits."""
    token = await cached_token(manager, engine, user)
    async with session_factory() as db:
        async with db.begin():
            assert await manager.revoke_token(token, session=db)
        await refused(manager, token)
        token = await cached_token(manager, engine, user)
        async with db.begin():
            nested = await db.begin_nested()
            assert await manager.revoke_all_user_tokens(str(user.id), session=db)
            await nested.commit()  # a savepoint's end is not the commit
            with counting(engine) as sent:
                await manager.verify_token(token)  # pending: the database is asked
            assert sent.sent == ["SELECT"]
    await refused(manager, token)


async def test_two_workers_share_the_slots(
    make_manager: MakeManager, engine: AsyncEngine, user: User
) -> None:
    """Two managers on one database (two workers of a host) see each other's revocations."""
    first, second = make_manager(), make_manager()
    token = await cached_token(first, engine, user)
    other = await cached_token(second, engine, user)
    assert await second.revoke_token(token)
    await refused(first, token)
    await second.verify_token(other)
    assert await first.revoke_all_user_tokens(str(user.id))
    await refused(second, other)


async def test_hand_written_sql_needs_invalidate(
    make_manager: MakeManager, engine: AsyncEngine, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revocation in raw SQL: stale until `invalidate_state_cache()`, or at most the TTL."""
    auth = make_manager(state_cache_ttl_seconds=5)
    for step in ("invalidate", "ttl"):
        token = await cached_token(auth, engine, user)
        async with engine.begin() as conn:
            await conn.execute(update(tokens).values(revoked_at=tokens.c.issued_at))
        await auth.verify_token(token)  # documented: a hand-written revocation is not seen
        if step == "invalidate":
            await auth.invalidate_state_cache()
        else:
            later = statecache.monotonic() + 5.01
            monkeypatch.setattr(statecache, "monotonic", lambda later=later: later)
        await refused(auth, token)


async def test_unusable_slot_file_bypasses_the_cache(
    make_manager: MakeManager,
    engine: AsyncEngine,
    user: User,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fail closed: a slot file that cannot be mapped turns the cache off, loudly."""
    with caplog.at_level(logging.ERROR, logger="authmanager.statecache"):
        auth = make_manager(state_cache_file=tmp_path / "no" / "file")
    assert "slot table unusable" in caplog.text
    token = (await auth.create_token_pair(claims(user))).access_token
    for _ in range(2):
        with counting(engine) as sent:
            await auth.verify_token(token)
        assert len(sent) == 1
    assert await auth.revoke_token(token)
    await refused(auth, token)


def test_settings_and_configuration_errors(make_manager: MakeManager, database: str) -> None:
    """`postgres` needs PostgreSQL; on SQLite the slots live beside the database file."""
    if database.startswith("sqlite"):
        with pytest.raises(ValueError, match="PostgreSQL"):
            make_manager(state_cache="postgres")
        make_manager(state_cache="local")
        slots = Path(database.split("///", 1)[1] + ".authmanager-slots")
        assert slots.stat().st_size > 1 << 16
    else:
        make_manager(state_cache="local")
        make_manager(state_cache="postgres")
