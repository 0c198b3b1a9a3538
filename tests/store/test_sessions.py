"""list_sessions and revoke_session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from authmanager import AuthManager, ClientInfo, RevokedTokenError, SessionInfo
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import CreateUser, MakeManager
from tests.support.clock import T0, frozen
from tests.support.factories import claims

PHONE = ClientInfo(ip_address="203.0.113.7", user_agent="Phone/1.0")
LAPTOP = ClientInfo(ip_address="2001:db8::1", user_agent="Laptop/2.0")


async def test_list_sessions_gives_every_field_with_aware_times(
    manager: AuthManager[User], user: User
) -> None:
    """A session lists id, times (aware UTC), user agent and IP; newest first."""
    with frozen(T0) as clock:
        phone = await manager.create_token_pair(claims(user), client=PHONE)
        clock.tick(timedelta(minutes=1))
        laptop = await manager.create_token_pair(claims(user), client=LAPTOP)
        listed = await manager.list_sessions(str(user.id))
    assert [s.id for s in listed] == [laptop.session_id, phone.session_id]
    newest, oldest = listed
    assert isinstance(newest, SessionInfo)
    assert (oldest.user_agent, oldest.ip_address) == ("Phone/1.0", "203.0.113.7")
    assert (newest.user_agent, newest.ip_address) == ("Laptop/2.0", "2001:db8::1")
    assert oldest.created_at == oldest.last_used_at == T0
    assert oldest.expires_at == T0 + timedelta(days=7)
    assert newest.created_at == T0 + timedelta(minutes=1)
    for info in listed:
        for moment in (info.created_at, info.last_used_at, info.expires_at):
            assert moment.tzinfo is not None
            assert moment.utcoffset() == timedelta(0)


async def test_session_without_client_info_lists_nones(
    manager: AuthManager[User], user: User
) -> None:
    """No client given: user agent and IP are None."""
    await manager.create_token_pair(claims(user))
    (info,) = await manager.list_sessions(str(user.id))
    assert (info.user_agent, info.ip_address) == (None, None)


async def test_last_used_at_moves_on_refresh(manager: AuthManager[User], user: User) -> None:
    """A refresh moves last_used_at and the refresh expiry, never created_at."""
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user), client=PHONE)
        clock.tick(timedelta(hours=5))
        new = await manager.refresh(pair.refresh_token)
        (info,) = await manager.list_sessions(str(user.id))
        assert info.created_at == T0
        assert info.last_used_at == T0 + timedelta(hours=5)
        assert info.expires_at == T0 + timedelta(hours=5, days=7)
        clock.tick(timedelta(minutes=10))
        await manager.verify_token(new.access_token)  # verifying is not "using" the session
        (again,) = await manager.list_sessions(str(user.id))
        assert again.last_used_at == T0 + timedelta(hours=5)


async def test_revoked_and_expired_sessions_are_hidden(
    make_manager: MakeManager, user: User
) -> None:
    """Only live sessions are listed: revoked ones and expired ones drop out."""
    auth = make_manager(refresh_token_expire_days=1)
    with frozen(T0) as clock:
        revoked = await auth.create_token_pair(claims(user))
        expiring = await auth.create_token_pair(claims(user))
        clock.tick(timedelta(hours=12))
        live = await auth.create_token_pair(claims(user))
        await auth.revoke_session(str(user.id), revoked.session_id)
        ids = {s.id for s in await auth.list_sessions(str(user.id))}
        assert ids == {expiring.session_id, live.session_id}
        clock.tick(timedelta(hours=13))  # the first login's refresh token has expired
        assert [s.id for s in await auth.list_sessions(str(user.id))] == [live.session_id]


async def test_access_only_sessions_are_not_login_sessions(
    manager: AuthManager[User], user: User
) -> None:
    """A service token from create_access_token is not listed as a login session."""
    await manager.create_access_token(claims(user))
    assert await manager.list_sessions(str(user.id)) == []


async def test_list_sessions_shows_only_that_users_sessions(
    manager: AuthManager[User], user: User, create_user: CreateUser
) -> None:
    """Bob never sees Alice's sessions."""
    bob = await create_user("bob@example.com")
    await manager.create_token_pair(claims(user))
    bobs = await manager.create_token_pair(claims(bob))
    assert [s.id for s in await manager.list_sessions(str(bob.id))] == [bobs.session_id]
    assert await manager.list_sessions("nobody") == []


async def test_revoke_session_ends_it_and_returns_true_once(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """True when a live session of the user ended; False the second time."""
    pair = await manager.create_token_pair(claims(user))
    keep = await manager.create_token_pair(claims(user))
    assert await manager.revoke_session(str(user.id), pair.session_id) is True
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)
    with pytest.raises(RevokedTokenError):
        await manager.refresh(pair.refresh_token)
    assert await manager.revoke_session(str(user.id), pair.session_id) is False
    assert [s.id for s in await manager.list_sessions(str(user.id))] == [keep.session_id]
    await manager.verify_token(keep.access_token)
    await manager.drain_events()
    (event,) = events.of("session.revoked")
    assert (event.user_id, event.session_id, event.extra) == (
        str(user.id),
        pair.session_id,
        {"revoked": 2},
    )


async def test_revoke_session_of_an_unknown_id_is_false(
    manager: AuthManager[User], user: User
) -> None:
    """An id that is no session: False, nothing else changes."""
    pair = await manager.create_token_pair(claims(user))
    assert await manager.revoke_session(str(user.id), "0" * 32) is False
    await manager.verify_token(pair.access_token)


async def test_revoke_session_never_touches_another_users_session(
    manager: AuthManager[User], user: User, create_user: CreateUser, events: CapturingHook
) -> None:
    """Alice cannot end Bob's session by its id: False, and Bob's tokens still work."""
    bob = await create_user("bob@example.com")
    bobs = await manager.create_token_pair(claims(bob))
    assert await manager.revoke_session(str(user.id), bobs.session_id) is False
    await manager.verify_token(bobs.access_token)
    await manager.refresh(bobs.refresh_token)
    assert len(await manager.list_sessions(str(bob.id))) == 1
    await manager.drain_events()
    assert events.of("session.revoked") == []


async def test_revoke_session_of_an_expired_session_is_false(
    make_manager: MakeManager, user: User
) -> None:
    """A session past its absolute lifetime is already over: revoke_session says False."""
    auth = make_manager(session_max_age_days=1, refresh_token_expire_days=1)
    with frozen(T0) as clock:
        pair = await auth.create_token_pair(claims(user))
        clock.tick(timedelta(days=2))
        assert await auth.revoke_session(str(user.id), pair.session_id) is False
        assert await auth.list_sessions(str(user.id)) == []
