"""Refresh rotation, theft detection, the grace window, absolute session lifetime, races."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from tests.conftest import MakeManager
from tests.support.clock import T0, frozen
from tests.support.factories import claims
from tests.support.rows import session_rows, token_rows


async def set_active(factory: async_sessionmaker[AsyncSession], user: User, active: bool) -> None:
    """Flip the user's is_active flag in the database."""
    async with factory() as db, db.begin():
        await db.execute(update(User).where(User.id == user.id).values(is_active=active))


async def test_refresh_rotates_within_the_session(
    manager: AuthManager[User],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
    events: CapturingHook,
) -> None:
    """A refresh returns a new pair in the same session; the old refresh token is consumed."""
    pair = await manager.create_token_pair(claims(user))
    new = await manager.refresh(pair.refresh_token)
    assert isinstance(new, TokenPair)
    assert new.session_id == pair.session_id
    assert new.token_type == "bearer"
    assert new.expires_in == 30 * 60
    assert new.access_token != pair.access_token
    assert new.refresh_token != pair.refresh_token
    access = await manager.verify_token(new.access_token)
    assert (access.sid, access.sub) == (pair.session_id, str(user.id))
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.refresh_token, token_type="refresh")
    old_jti = jwt.decode(pair.refresh_token, options={"verify_signature": False})["jti"]
    fresh = await manager.verify_token(new.refresh_token, token_type="refresh")
    rows = {r.jti: r for r in await token_rows(session_factory, session_id=pair.session_id)}
    assert rows[old_jti].revoke_reason == "rotated"
    assert rows[old_jti].replaced_by == fresh.jti
    assert rows[fresh.jti].parent_jti == old_jti
    assert rows[fresh.jti].revoked_at is None
    # The previous access token stays valid until it expires (it was not stolen).
    assert (await manager.verify_token(pair.access_token)).sid == pair.session_id
    await manager.drain_events()
    refreshed = events.last("token.refreshed")
    assert (refreshed.user_id, refreshed.session_id, refreshed.token_id) == (
        str(user.id),
        pair.session_id,
        fresh.jti,
    )


async def test_refresh_keeps_custom_claims(manager: AuthManager[User], user: User) -> None:
    """Tokens minted by refresh carry the claims the session was created with."""
    data = claims(user, role="admin", device_id="d-9", scopes=["read", "admin"])
    pair = await manager.create_token_pair(data)
    second = await manager.refresh((await manager.refresh(pair.refresh_token)).refresh_token)
    payload = await manager.verify_token(second.access_token)
    assert payload["role"] == "admin"
    assert payload["device_id"] == "d-9"
    assert payload.scopes == ["read", "admin"]
    refresh_payload = await manager.verify_token(second.refresh_token, token_type="refresh")
    assert refresh_payload["role"] == "admin"


async def test_rotated_token_within_grace_is_refused_without_ending_the_session(
    make_manager: MakeManager, user: User, events: CapturingHook
) -> None:
    """Retries off: a second use within the grace is refused, the newest pair keeps working."""
    manager = make_manager(refresh_retry_within_grace=False)
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user))
        new = await manager.refresh(pair.refresh_token)
        clock.tick(timedelta(seconds=manager.settings.refresh_reuse_grace_seconds))
        with pytest.raises(RevokedTokenError) as info:
            await manager.refresh(pair.refresh_token)
        assert info.value.reason == Reason.ROTATED_RECENTLY
        assert (await manager.verify_token(new.access_token)).sid == pair.session_id
        newest = await manager.refresh(new.refresh_token)
        await manager.verify_token(newest.access_token)
    await manager.drain_events()
    assert events.of("refresh.reuse_detected") == []
    assert len(await manager.list_sessions(str(user.id))) == 1


async def test_rotated_token_within_grace_whose_successor_was_used_is_refused(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """A second tab presenting the old token after the successor moved on: 401, session kept."""
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user))
        new = await manager.refresh(pair.refresh_token)
        newest = await manager.refresh(new.refresh_token)
        clock.tick(timedelta(seconds=manager.settings.refresh_reuse_grace_seconds))
        with pytest.raises(RevokedTokenError) as info:
            await manager.refresh(pair.refresh_token)
        assert info.value.reason == Reason.ROTATED_RECENTLY
        await manager.verify_token(newest.access_token)
    await manager.drain_events()
    assert events.of("refresh.reuse_detected") == []


async def test_reuse_after_grace_revokes_the_whole_session(
    manager: AuthManager[User],
    user: User,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A rotated token replayed after the grace window ends its session (theft detection)."""
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user))
        other = await manager.create_token_pair(claims(user))
        clock.tick(timedelta(minutes=1))
        new = await manager.refresh(pair.refresh_token)
        clock.tick(timedelta(seconds=manager.settings.refresh_reuse_grace_seconds + 1))
        with pytest.raises(RevokedTokenError) as info:
            await manager.refresh(pair.refresh_token)
        assert info.value.reason == Reason.REUSED_REFRESH
        for token in (new.access_token, pair.access_token):
            with pytest.raises(RevokedTokenError):
                await manager.verify_token(token)
        with pytest.raises(RevokedTokenError):
            await manager.refresh(new.refresh_token)
        # Another session of the same user is not affected.
        await manager.verify_token(other.access_token)
        listed = [s.id for s in await manager.list_sessions(str(user.id))]
    assert listed == [other.session_id]
    await manager.drain_events()
    reuse = events.last("refresh.reuse_detected")
    assert (reuse.user_id, reuse.session_id, reuse.reason) == (
        str(user.id),
        pair.session_id,
        Reason.REUSED_REFRESH,
    )
    (row,) = await session_rows(session_factory, id=pair.session_id)
    assert row.revoke_reason == "reuse_detected"
    rows = await token_rows(session_factory, session_id=pair.session_id)
    assert all(r.revoked_at is not None for r in rows)


async def test_twenty_concurrent_refreshes_rotate_the_token_exactly_once(
    manager: AuthManager[User],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Of 20 simultaneous refreshes of one token, one rotates it; the others get its successor.

    The session never forks: one live refresh token, which every caller now holds.
    """
    pair = await manager.create_token_pair(claims(user))
    results = await asyncio.gather(
        *(manager.refresh(pair.refresh_token) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, TokenPair) for r in results), results
    refresh_tokens = {r.refresh_token for r in results if isinstance(r, TokenPair)}
    assert len(refresh_tokens) == 1
    rows = await token_rows(session_factory, session_id=pair.session_id, type="refresh")
    assert len(rows) == 2
    assert [r.revoked_at is None for r in rows].count(True) == 1
    (winner,) = refresh_tokens
    for result in results:
        assert isinstance(result, TokenPair)
        await manager.verify_token(result.access_token)
    await manager.refresh(winner)


async def test_twenty_concurrent_refreshes_without_retries_have_exactly_one_winner(
    make_manager: MakeManager,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Retries off: of 20 simultaneous refreshes of one token, exactly one succeeds."""
    manager = make_manager(refresh_retry_within_grace=False)
    pair = await manager.create_token_pair(claims(user))
    results = await asyncio.gather(
        *(manager.refresh(pair.refresh_token) for _ in range(20)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, TokenPair)]
    losers = [r for r in results if not isinstance(r, TokenPair)]
    assert len(winners) == 1
    assert len(losers) == 19
    assert all(isinstance(r, RevokedTokenError) for r in losers), losers
    assert {r.reason for r in losers if isinstance(r, RevokedTokenError)} == {
        Reason.ROTATED_RECENTLY
    }
    (winner,) = winners
    # The race was benign (within the grace window): the winner's pair works.
    await manager.verify_token(winner.access_token)
    rows = await token_rows(session_factory, session_id=pair.session_id, type="refresh")
    assert [r.revoked_at is None for r in rows].count(True) == 1
    assert len(rows) == 2
    await manager.refresh(winner.refresh_token)


async def test_session_lifetime_is_never_extended_by_rotation(
    make_manager: MakeManager, user: User
) -> None:
    """With a 3-day session and 1-day refresh tokens, rotation stops at day 3."""
    auth = make_manager(session_max_age_days=3, refresh_token_expire_days=1)
    end = T0 + timedelta(days=3)
    with frozen(T0) as clock:
        pair = await auth.create_token_pair(claims(user))
        for _ in range(3):
            clock.tick(timedelta(hours=20))
            pair = await auth.refresh(pair.refresh_token)
            refresh = await auth.verify_token(pair.refresh_token, token_type="refresh")
            access = await auth.verify_token(pair.access_token)
            assert refresh.exp <= end
            assert access.exp <= end
        # 60 hours in: the last refresh token was cut to the session's end (12 h left).
        assert refresh.exp == end.replace(microsecond=0)
        assert pair.refresh_expires_in == 12 * 3600
        (info,) = await auth.list_sessions(str(user.id))
        assert info.expires_at == end
        clock.move_to(end + timedelta(minutes=1))
        with pytest.raises(ExpiredTokenError):
            await auth.refresh(pair.refresh_token)
        assert await auth.list_sessions(str(user.id)) == []


async def test_session_max_age_caps_the_first_refresh_token(
    make_manager: MakeManager, user: User
) -> None:
    """A session shorter than the refresh lifetime caps the very first refresh token."""
    auth = make_manager(session_max_age_days=2, refresh_token_expire_days=7)
    pair = await auth.create_token_pair(claims(user))
    assert pair.refresh_expires_in == 2 * 86400


async def test_expired_refresh_token_is_refused(make_manager: MakeManager, user: User) -> None:
    """A refresh token past its own expiry cannot rotate."""
    auth = make_manager(refresh_token_expire_days=1)
    with frozen(T0) as clock:
        pair = await auth.create_token_pair(claims(user))
        clock.tick(timedelta(days=1, minutes=1))
        with pytest.raises(ExpiredTokenError):
            await auth.refresh(pair.refresh_token)
        with pytest.raises(ExpiredTokenError):
            await auth.refresh_access_token(pair.refresh_token)


async def test_deleted_user_cannot_refresh_and_the_token_is_not_consumed(
    manager: AuthManager[User],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Refresh refuses a deleted user; the failed attempt changes nothing in the store."""
    pair = await manager.create_token_pair(claims(user))
    async with session_factory() as db, db.begin():
        await db.execute(delete(User).where(User.id == user.id))
    with pytest.raises(InvalidTokenError) as info:
        await manager.refresh(pair.refresh_token)
    assert info.value.reason == Reason.USER_NOT_FOUND
    with pytest.raises(InvalidTokenError):
        await manager.refresh_access_token(pair.refresh_token)
    rows = await token_rows(session_factory, session_id=pair.session_id)
    assert len(rows) == 2
    assert all(r.revoked_at is None for r in rows)


async def test_inactive_user_cannot_refresh_until_reactivated(
    manager: AuthManager[User],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """An inactive user is refused; a failed refresh leaves the old token usable."""
    pair = await manager.create_token_pair(claims(user))
    await set_active(session_factory, user, False)
    with pytest.raises(InvalidTokenError) as info:
        await manager.refresh(pair.refresh_token)
    assert info.value.reason == Reason.USER_INACTIVE
    with pytest.raises(InvalidTokenError):
        await manager.refresh_access_token(pair.refresh_token)
    await set_active(session_factory, user, True)
    new = await manager.refresh(pair.refresh_token)
    await manager.verify_token(new.access_token)


async def test_refresh_of_a_revoked_session_is_refused(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """After logout (revoke_session) the refresh token is refused, not reported as theft."""
    pair = await manager.create_token_pair(claims(user))
    await manager.revoke_session(str(user.id), pair.session_id)
    with pytest.raises(RevokedTokenError) as info:
        await manager.refresh(pair.refresh_token)
    assert info.value.reason == Reason.REVOKED
    await manager.drain_events()
    assert events.of("refresh.reuse_detected") == []


async def test_refresh_access_token_keeps_the_refresh_token(
    manager: AuthManager[User],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """refresh_access_token mints access tokens while the refresh token stays usable."""
    pair = await manager.create_token_pair(claims(user, role="r"))
    first = await manager.refresh_access_token(pair.refresh_token)
    second = await manager.refresh_access_token(pair.refresh_token)
    assert first != second
    for token in (first, second):
        payload = await manager.verify_token(token)
        assert (payload.sid, payload.sub, payload["role"]) == (pair.session_id, str(user.id), "r")
    rows = await token_rows(session_factory, session_id=pair.session_id)
    assert sorted(r.type for r in rows) == ["access", "access", "access", "refresh"]
    assert all(r.revoked_at is None for r in rows)
    await manager.verify_token(await manager.refresh_access_token(pair.refresh_token))
    new = await manager.refresh(pair.refresh_token)
    await manager.verify_token(new.access_token)


async def test_refresh_access_token_treats_a_rotated_token_like_refresh(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """A rotated token: refused within grace (session kept), theft after (session ended)."""
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user))
        new = await manager.refresh(pair.refresh_token)
        with pytest.raises(RevokedTokenError) as recent:
            await manager.refresh_access_token(pair.refresh_token)
        assert recent.value.reason == Reason.ROTATED_RECENTLY
        await manager.verify_token(new.access_token)
        clock.tick(timedelta(seconds=manager.settings.refresh_reuse_grace_seconds + 1))
        with pytest.raises(RevokedTokenError) as reused:
            await manager.refresh_access_token(pair.refresh_token)
        assert reused.value.reason == Reason.REUSED_REFRESH
        with pytest.raises(RevokedTokenError):
            await manager.verify_token(new.access_token)
        with pytest.raises(RevokedTokenError):
            await manager.refresh(new.refresh_token)
    await manager.drain_events()
    assert events.last("refresh.reuse_detected").session_id == pair.session_id


async def test_refresh_with_garbage_is_an_invalid_token_error(
    manager: AuthManager[User],
) -> None:
    """A malformed refresh token is refused before touching the store."""
    for junk in ["", "not.a.jwt", "x" * 10000]:
        with pytest.raises(InvalidTokenError):
            await manager.refresh(junk)
        with pytest.raises(InvalidTokenError):
            await manager.refresh_access_token(junk)
