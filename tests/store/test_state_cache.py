"""The opt-in state cache: hits cost no statement, every revocation is seen at once."""

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
from tests.support.spies import counting
from tests.support.statecache import cached_token

# Private reads (ruff SLF001 is ignored for tests): whether a cache was built, and its
# epoch file, have no public view; a broken epoch is what the fail-closed test needs.


def claims(user: User) -> dict[str, str]:
    return {"sub": str(user.id)}


async def refused(auth: AuthManager[User], token: str) -> None:
    with pytest.raises(RevokedTokenError):
        await auth.verify_token(token)


async def test_off_by_default(manager: AuthManager[User], engine: AsyncEngine, user: User) -> None:
    """Without the setting, every verification asks the database once."""
    assert manager.settings.state_cache == "off"
    assert manager._state_cache is None
    token = (await manager.create_token_pair(claims(user))).access_token
    for _ in range(3):
        with counting(engine) as sent:
            await manager.verify_token(token)
        assert sent.sent == ["SELECT"]


async def test_hit_sends_no_statement(cached: MakeManager, engine: AsyncEngine, user: User) -> None:
    """The second verification of a live access token is answered from memory."""
    await cached_token(cached(), engine, user)


async def test_current_user_hit_loads_only_the_user(
    cached: MakeManager, engine: AsyncEngine, user: User
) -> None:
    """`current_user` still loads the user on a hit, and skips the token look-up."""
    auth = cached()
    token = await cached_token(auth, engine, user)
    async with client_for(make_app(auth)) as client:
        with counting(engine) as sent:
            assert (await client.get("/me", headers=bearer(token))).status_code == 200
    assert len(sent) == 1


async def test_refresh_tokens_and_caller_sessions_bypass(
    cached: MakeManager,
    engine: AsyncEngine,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Refresh tokens, and reads in a caller's session, always go to the database."""
    auth = cached()
    pair = await auth.create_token_pair(claims(user))
    for _ in range(2):
        with counting(engine) as sent:
            await auth.verify_token(pair.refresh_token, token_type="refresh")
        assert len(sent) == 1
    for _ in range(2):
        async with session_factory() as db:
            with counting(engine) as sent:
                await auth.verify_token(pair.access_token, session=db)
            assert len(sent) >= 1


async def test_revoke_token(cached: MakeManager, engine: AsyncEngine, user: User) -> None:
    auth = cached()
    token = await cached_token(auth, engine, user)
    assert await auth.revoke_token(token)
    await refused(auth, token)


async def test_revoke_session(cached: MakeManager, engine: AsyncEngine, user: User) -> None:
    auth = cached()
    token = await cached_token(auth, engine, user)
    payload = await auth.verify_token(token)
    assert await auth.revoke_session(str(user.id), payload.sid)
    await refused(auth, token)


async def test_revoke_all_user_tokens(cached: MakeManager, engine: AsyncEngine, user: User) -> None:
    auth = cached()
    token = await cached_token(auth, engine, user)
    assert await auth.revoke_all_user_tokens(str(user.id)) >= 1
    await refused(auth, token)


async def test_change_password(cached: MakeManager, engine: AsyncEngine, user: User) -> None:
    auth = cached()
    token = await cached_token(auth, engine, user)
    assert await auth.change_password(user, "a brand new passphrase 2024") >= 1
    await refused(auth, token)


async def test_refresh_reuse_detection(
    cached: MakeManager, engine: AsyncEngine, user: User
) -> None:
    """A replayed refresh token ends the session: its cached access token dies with it."""
    auth = cached(refresh_reuse_grace_seconds=0)
    pair = await auth.create_token_pair(claims(user))
    await asyncio.sleep(0.01)
    new = await auth.refresh(pair.refresh_token)
    await auth.verify_token(new.access_token)
    with counting(engine) as sent:
        await auth.verify_token(new.access_token)
    assert len(sent) == 0
    await asyncio.sleep(0.01)
    with pytest.raises(RevokedTokenError):
        await auth.refresh(pair.refresh_token)
    await refused(auth, new.access_token)


async def test_logout_over_http(cached: MakeManager, engine: AsyncEngine, user: User) -> None:
    """`POST /auth/logout` refuses the access token on the very next request."""
    auth = cached()
    async with client_for(make_app(auth)) as client:
        token = (await login(client)).json()["access_token"]
        assert (await client.get("/claims", headers=bearer(token))).status_code == 200
        with counting(engine) as sent:
            assert (await client.get("/claims", headers=bearer(token))).status_code == 200
        assert len(sent) == 0
        assert (await client.post("/auth/logout", headers=bearer(token))).status_code == 200
        assert (await client.get("/claims", headers=bearer(token))).status_code == 401


async def test_revocation_in_a_callers_session(
    cached: MakeManager,
    engine: AsyncEngine,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A revocation inside the caller's transaction is seen once that transaction commits."""
    auth = cached()
    token = await cached_token(auth, engine, user)
    async with session_factory() as db:
        async with db.begin():
            assert await auth.revoke_token(token, session=db)
        await refused(auth, token)
        token = await cached_token(auth, engine, user)
        async with db.begin():
            assert await auth.revoke_all_user_tokens(str(user.id), session=db)
    await refused(auth, token)


async def test_two_managers_share_the_epoch(
    cached: MakeManager, engine: AsyncEngine, user: User
) -> None:
    """Two 'workers' (managers on one database and epoch file) see each other's revocations."""
    first, second = cached(), cached()
    token = await cached_token(first, engine, user)
    other = await cached_token(second, engine, user)
    assert await second.revoke_token(token)
    await refused(first, token)
    await second.verify_token(other)
    assert await first.revoke_all_user_tokens(str(user.id))
    await refused(second, other)


async def test_hand_written_sql_needs_invalidate(
    cached: MakeManager, engine: AsyncEngine, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revocation in raw SQL: stale until `invalidate_state_cache()`, or at most the TTL."""
    auth = cached(state_cache_ttl_seconds=5)
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


async def test_unusable_epoch_file_bypasses_the_cache(
    make_manager: MakeManager,
    engine: AsyncEngine,
    user: User,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fail closed: an epoch file that cannot be mapped turns the cache off, loudly."""
    with caplog.at_level(logging.ERROR, logger="authmanager.statecache"):
        auth = make_manager(state_cache="local", state_cache_epoch_file=tmp_path / "no" / "file")
    assert "epoch file unusable" in caplog.text
    token = (await auth.create_token_pair(claims(user))).access_token
    for _ in range(2):
        with counting(engine) as sent:
            await auth.verify_token(token)
        assert len(sent) == 1
    assert await auth.revoke_token(token)
    await refused(auth, token)


async def test_broken_bump_fails_the_revocation_closed(
    cached: MakeManager, engine: AsyncEngine, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An epoch that cannot be bumped before commit rolls the revocation back (retry-able)."""
    from authmanager import TokenStoreUnavailableError

    auth = cached()
    token = await cached_token(auth, engine, user)
    epoch = auth._state_cache._epoch  # type: ignore[union-attr]

    def broken() -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(epoch, "bump", broken)
    with pytest.raises(TokenStoreUnavailableError):
        await auth.revoke_token(token)
    with counting(engine) as sent:
        await auth.verify_token(token)  # still live (rolled back), and no longer cached
    assert len(sent) == 1


def test_settings_and_configuration_errors(
    make_manager: MakeManager, database: str, tmp_path: Path
) -> None:
    """`local` needs an epoch file off SQLite; `postgres` needs PostgreSQL."""
    if database.startswith("sqlite"):
        with pytest.raises(ValueError, match="PostgreSQL"):
            make_manager(state_cache="postgres")
        auth = make_manager(state_cache="local")
        epoch = Path(database.split("///", 1)[1] + ".authmanager-epoch")
        assert epoch.stat().st_size == 8
        assert auth._state_cache is not None
    else:
        with pytest.raises(ValueError, match="EPOCH_FILE"):
            make_manager(state_cache="local")
        make_manager(state_cache="local", state_cache_epoch_file=tmp_path / "e")
