"""revoke_token, revoke_all_user_tokens (with exclusions), and a login racing revoke-all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager import (
    AuthManager,
    ExpiredTokenError,
    InvalidTokenError,
    RevokedTokenError,
    TokenPair,
)
from authmanager.exceptions import Reason
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import CreateUser, MakeManager
from tests.support.clock import T0, frozen
from tests.support.factories import claims
from tests.support.rows import session_rows, token_rows


async def jti_of(manager: AuthManager[User], pair: TokenPair) -> str:
    """The access token's id."""
    return (await manager.verify_token(pair.access_token)).jti


# --- revoke_token ------------------------------------------------------------------------


async def test_revoking_an_access_token_stops_only_that_token(
    manager: AuthManager[User],
    user: User,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The access token is refused at once; its session's refresh token still rotates."""
    pair = await manager.create_token_pair(claims(user))
    jti = await jti_of(manager, pair)
    assert await manager.revoke_token(pair.access_token) is True
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)
    assert await manager.revoke_token(pair.access_token) is False
    (row,) = await token_rows(session_factory, jti=jti)
    assert row.revoke_reason == "revoked"
    new = await manager.refresh(pair.refresh_token)
    await manager.verify_token(new.access_token)
    await manager.drain_events()
    revoked = events.of("token.revoked")
    assert len(revoked) == 1
    assert (revoked[0].token_id, revoked[0].session_id, revoked[0].user_id) == (
        jti,
        pair.session_id,
        str(user.id),
    )


async def test_revoking_a_refresh_token_ends_its_session(
    manager: AuthManager[User],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Revoking a refresh token (RFC 7009) ends the session: access and refresh refused."""
    pair = await manager.create_token_pair(claims(user))
    other = await manager.create_token_pair(claims(user))
    assert await manager.revoke_token(pair.refresh_token) is True
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)
    with pytest.raises(RevokedTokenError):
        await manager.refresh(pair.refresh_token)
    assert await manager.revoke_token(pair.refresh_token) is False
    assert [s.id for s in await manager.list_sessions(str(user.id))] == [other.session_id]
    (row,) = await session_rows(session_factory, id=pair.session_id)
    assert row.revoked_at is not None
    await manager.verify_token(other.access_token)


async def test_revoking_an_expired_token_is_a_no_op(
    manager: AuthManager[User], user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """An expired token is already dead: False, and nothing is written."""
    with frozen(T0) as clock:
        token = await manager.create_access_token(claims(user), expires_in=timedelta(minutes=1))
        clock.tick(timedelta(minutes=5))
        assert await manager.revoke_token(token) is False
    rows = await token_rows(session_factory, user_id=str(user.id))
    assert [r.revoked_at for r in rows] == [None]


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
async def test_revoking_garbage_raises_invalid_token(
    manager: AuthManager[User], token: str
) -> None:
    """revoke_token refuses what it cannot verify."""
    with pytest.raises(InvalidTokenError):
        await manager.revoke_token(token)


async def test_revoking_a_token_of_another_key_raises_invalid_token(
    make_manager: MakeManager, manager: AuthManager[User], user: User
) -> None:
    """A forged (other-key) token cannot be used to revoke anything."""
    other = make_manager(secret_key="a-different-secret-a-different-secret-012345")
    pair = await other.create_token_pair(claims(user))
    with pytest.raises(InvalidTokenError):
        await manager.revoke_token(pair.access_token)
    await other.verify_token(pair.access_token)


# --- revoke_all_user_tokens --------------------------------------------------------------


async def test_revoke_all_ends_every_session_and_counts_tokens(
    manager: AuthManager[User],
    user: User,
    create_user: CreateUser,
    events: CapturingHook,
) -> None:
    """Every token of the user is refused; the count covers access and refresh tokens."""
    bob = await create_user("bob@example.com")
    with frozen(T0) as clock:
        pairs = [await manager.create_token_pair(claims(user)) for _ in range(3)]
        service = await manager.create_access_token(claims(user))
        bobs = await manager.create_token_pair(claims(bob))
        clock.tick(timedelta(seconds=1))
        count = await manager.revoke_all_user_tokens(str(user.id))
        assert count == 3 * 2 + 1
        for pair in pairs:
            with pytest.raises(RevokedTokenError):
                await manager.verify_token(pair.access_token)
            with pytest.raises(RevokedTokenError):
                await manager.refresh(pair.refresh_token)
        with pytest.raises(RevokedTokenError):
            await manager.verify_token(service)
        assert await manager.list_sessions(str(user.id)) == []
        # Bob is untouched.
        await manager.verify_token(bobs.access_token)
        assert len(await manager.list_sessions(str(bob.id))) == 1
        # A later login works, and a second revoke-all finds nothing left.
        clock.tick(timedelta(seconds=1))
        later = await manager.create_token_pair(claims(user))
        await manager.verify_token(later.access_token)
        assert await manager.revoke_all_user_tokens(str(user.id)) == 2
        assert await manager.revoke_all_user_tokens(str(user.id)) == 0
    await manager.drain_events()
    first = events.of("token.revoked")[0]
    assert (first.user_id, first.reason, first.extra) == (
        str(user.id),
        "revoke_all",
        {"revoked": 7},
    )


async def test_revoke_all_for_a_user_without_tokens_returns_zero(
    manager: AuthManager[User], user: User
) -> None:
    """Nothing to revoke: 0."""
    assert await manager.revoke_all_user_tokens(str(user.id)) == 0
    assert await manager.revoke_all_user_tokens("no-such-user") == 0


async def test_revoke_all_keeps_the_session_of_the_excluded_token(
    manager: AuthManager[User], user: User
) -> None:
    """exclude_token_id keeps its whole session (access and refresh) working."""
    with frozen(T0) as clock:
        keep, gone1, gone2 = [await manager.create_token_pair(claims(user)) for _ in range(3)]
        clock.tick(timedelta(seconds=1))
        count = await manager.revoke_all_user_tokens(
            str(user.id), exclude_token_id=await jti_of(manager, keep)
        )
        assert count == 4
        for pair in (gone1, gone2):
            with pytest.raises(RevokedTokenError):
                await manager.verify_token(pair.access_token)
        await manager.verify_token(keep.access_token)
        clock.tick(timedelta(seconds=1))
        rotated = await manager.refresh(keep.refresh_token)
        await manager.verify_token(rotated.access_token)
        assert [s.id for s in await manager.list_sessions(str(user.id))] == [keep.session_id]
        # A later revoke-all without exclusion ends the kept session too.
        clock.tick(timedelta(seconds=1))
        assert await manager.revoke_all_user_tokens(str(user.id)) >= 2
        with pytest.raises(RevokedTokenError):
            await manager.verify_token(rotated.access_token)


async def test_revoke_all_can_exclude_by_refresh_token_id(
    manager: AuthManager[User], user: User
) -> None:
    """The excluded id may be the refresh token's; its session is kept."""
    keep = await manager.create_token_pair(claims(user))
    gone = await manager.create_token_pair(claims(user))
    refresh_jti = (await manager.verify_token(keep.refresh_token, token_type="refresh")).jti
    assert await manager.revoke_all_user_tokens(str(user.id), exclude_token_id=refresh_jti) == 2
    await manager.verify_token(keep.access_token)
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(gone.access_token)


async def test_revoke_all_ignores_an_excluded_token_of_another_user(
    manager: AuthManager[User], user: User, create_user: CreateUser
) -> None:
    """Another user's token id cannot shield a session: everything of this user ends."""
    bob = await create_user("bob@example.com")
    mine = await manager.create_token_pair(claims(user))
    bobs = await manager.create_token_pair(claims(bob))
    count = await manager.revoke_all_user_tokens(
        str(user.id), exclude_token_id=await jti_of(manager, bobs)
    )
    assert count == 2
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(mine.access_token)
    await manager.verify_token(bobs.access_token)


async def test_revoke_all_accepts_an_integer_user_id(
    manager: AuthManager[User], user: User
) -> None:
    """user.id passed as is (an int) works like its string, exclusion included."""
    keep = await manager.create_token_pair(claims(user))
    gone = await manager.create_token_pair(claims(user))
    count = await manager.revoke_all_user_tokens(
        user.id,  # type: ignore[arg-type]
        exclude_token_id=await jti_of(manager, keep),
    )
    assert count == 2
    await manager.verify_token(keep.access_token)
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(gone.access_token)


async def test_login_committed_after_revoke_all_with_an_earlier_clock_is_refused(
    manager: AuthManager[User], user: User
) -> None:
    """A login that read the clock before a revoke-all but committed after it is dead.

    This is the race as SQLite serialises it (the login waits for the write lock the
    revoke-all holds): the login's `now` precedes the revoke-all's, its commit follows.
    """
    with frozen(T0) as clock:
        await manager.revoke_all_user_tokens(str(user.id))
        clock.move_to(T0 - timedelta(milliseconds=1))
        raced = await manager.create_token_pair(claims(user))
        clock.move_to(T0 + timedelta(seconds=1))
        with pytest.raises(RevokedTokenError) as info:
            await manager.verify_token(raced.access_token)
        assert info.value.reason == Reason.SESSION_REVOKED
        with pytest.raises(RevokedTokenError):
            await manager.refresh(raced.refresh_token)
        assert await manager.list_sessions(str(user.id)) == []
        # A login after the revoke-all is fine.
        ok = await manager.create_token_pair(claims(user))
        await manager.verify_token(ok.access_token)


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_login_transaction_open_across_revoke_all_is_refused(
    manager: AuthManager[User],
    user: User,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A pair inserted in an open transaction, committed after a revoke-all, is refused.

    PostgreSQL only: on SQLite the open login transaction holds the write lock, so the
    revoke-all cannot run until it commits (the earlier-clock test covers that order).
    """
    assert engine.dialect.name == "postgresql"
    async with session_factory() as login_db, login_db.begin():
        raced = await manager.create_token_pair(claims(user), session=login_db)
        # Not committed yet: the revoke-all cannot see the new session's rows.
        assert await manager.revoke_all_user_tokens(str(user.id)) == 0
        # Committed now, after the revoke-all.
    rows = await token_rows(session_factory, session_id=raced.session_id)
    assert [r.revoked_at for r in rows] == [None, None]  # the rows themselves look live
    with pytest.raises(RevokedTokenError) as info:
        await manager.verify_token(raced.access_token)
    assert info.value.reason == Reason.SESSION_REVOKED
    with pytest.raises(RevokedTokenError):
        await manager.refresh(raced.refresh_token)
    with pytest.raises(RevokedTokenError):
        await manager.refresh_access_token(raced.refresh_token)
    assert await manager.list_sessions(str(user.id)) == []


async def test_revoke_all_inside_the_callers_transaction_rolls_back_with_it(
    manager: AuthManager[User],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """With session=, nothing is revoked unless the caller commits."""
    pair = await manager.create_token_pair(claims(user))
    async with session_factory() as db, db.begin():
        assert await manager.revoke_all_user_tokens(str(user.id), session=db) == 2
        await db.rollback()
    await manager.verify_token(pair.access_token)


async def test_expired_session_refresh_reports_expiry_not_revocation(
    make_manager: MakeManager, user: User
) -> None:
    """A session past its absolute end is expired (not revoked)."""
    auth = make_manager(session_max_age_days=1, refresh_token_expire_days=7)
    with frozen(T0) as clock:
        pair = await auth.create_token_pair(claims(user))
        clock.tick(timedelta(days=1, seconds=1))
        with pytest.raises(ExpiredTokenError):
            await auth.refresh(pair.refresh_token)
