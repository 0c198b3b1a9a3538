"""`authenticate` on every database: the user, the events, and hash upgrades at login.

Hashing, verification and the rehash policy need no database: tests/unit/test_passwords.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager, InvalidCredentialsError
from authmanager.exceptions import Reason
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import PASSWORD, CreateUser, MakeManager
from tests.support.factories import plain_bcrypt


async def stored_hash(factory: async_sessionmaker[AsyncSession], user: User) -> str:
    """Read the user's password hash back from the database."""
    async with factory() as db:
        query = select(User.hashed_password).where(User.id == user.id)
        return str((await db.execute(query)).scalar_one())


# --- authenticate ---------------------------------------------------------------------


async def test_authenticate_returns_the_user_and_emits_login_succeeded(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """Right login and password: the user comes back and `login.succeeded` is emitted."""
    found = await manager.authenticate("alice@example.com", PASSWORD)
    assert found.id == user.id
    assert found.email == "alice@example.com"
    await manager.drain_events()
    assert events.names() == ["login.succeeded"]
    assert events.last("login.succeeded").user_id == str(user.id)


async def test_authenticate_matches_login_case_insensitively(
    manager: AuthManager[User], user: User
) -> None:
    """The bundled loader compares logins case-insensitively."""
    assert (await manager.authenticate("  ALICE@Example.com ", PASSWORD)).id == user.id


async def test_wrong_password_and_unknown_login_raise_the_same_error(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """An unknown login and a wrong password are indistinguishable to the caller."""
    with pytest.raises(InvalidCredentialsError) as wrong_password:
        await manager.authenticate("alice@example.com", "not the password")
    with pytest.raises(InvalidCredentialsError) as unknown_login:
        await manager.authenticate("nobody@example.com", PASSWORD)
    assert type(wrong_password.value) is type(unknown_login.value)
    assert str(wrong_password.value) == str(unknown_login.value) == "Incorrect login or password."
    assert wrong_password.value.reason == unknown_login.value.reason == Reason.BAD_CREDENTIALS
    await manager.drain_events()
    assert events.names() == ["login.failed", "login.failed"]
    assert all(e.reason == Reason.BAD_CREDENTIALS and e.user_id is None for e in events.events)


async def test_inactive_user_is_refused(
    manager: AuthManager[User], create_user: CreateUser, events: CapturingHook
) -> None:
    """A user with is_active false cannot authenticate even with the right password."""
    bob = await create_user("bob@example.com", is_active=False)
    with pytest.raises(InvalidCredentialsError) as info:
        await manager.authenticate("bob@example.com", PASSWORD)
    # The error is the same as for a wrong password (no oracle); the event says why.
    assert info.value.reason == Reason.BAD_CREDENTIALS
    assert str(info.value) == "Incorrect login or password."
    await manager.drain_events()
    failed = events.last("login.failed")
    assert (failed.reason, failed.user_id) == (Reason.USER_INACTIVE, str(bob.id))
    assert events.of("login.succeeded") == []


async def test_user_without_a_hash_is_refused(
    manager: AuthManager[User], create_user: CreateUser
) -> None:
    """A user whose stored hash is unusable never authenticates."""
    await create_user("sso@example.com", hashed_password="!")
    with pytest.raises(InvalidCredentialsError):
        await manager.authenticate("sso@example.com", "!")


async def test_too_long_password_fails_login_without_hashing(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """An oversized password is a failed login (reason password_too_long), not an error."""
    with pytest.raises(InvalidCredentialsError) as info:
        await manager.authenticate("alice@example.com", PASSWORD + "x" * 2000)
    assert info.value.reason == Reason.BAD_CREDENTIALS  # one error for every failure
    await manager.drain_events()
    assert events.last("login.failed").reason == Reason.PASSWORD_TOO_LONG


async def test_authenticate_upgrades_a_plain_bcrypt_hash(
    manager: AuthManager[User],
    create_user: CreateUser,
    session_factory: async_sessionmaker[AsyncSession],
    events: CapturingHook,
) -> None:
    """A legacy bcrypt hash is replaced through set_password_hash at login."""
    legacy = plain_bcrypt(PASSWORD)
    bob = await create_user("bob@example.com", hashed_password=legacy)
    found = await manager.authenticate("bob@example.com", PASSWORD)
    new_hash = await stored_hash(session_factory, bob)
    assert new_hash != legacy
    assert new_hash.startswith("$bcrypt-sha256$")
    assert found.hashed_password == new_hash
    assert manager.verify_password(PASSWORD, new_hash)
    assert not manager.password_needs_rehash(new_hash)
    await manager.drain_events()
    assert events.names() == ["password.rehashed", "login.succeeded"]
    assert events.last("password.rehashed").user_id == str(bob.id)
    # The upgraded hash keeps working, and no second upgrade happens.
    events.clear()
    await manager.authenticate("bob@example.com", PASSWORD)
    assert await stored_hash(session_factory, bob) == new_hash
    await manager.drain_events()
    assert events.names() == ["login.succeeded"]


async def test_authenticate_upgrades_a_lower_cost_hash(
    make_manager: MakeManager,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
    events: CapturingHook,
) -> None:
    """Raising bcrypt_rounds upgrades each user's hash at their next login."""
    strong = make_manager(bcrypt_rounds=5)
    old = await stored_hash(session_factory, user)
    assert strong.password_needs_rehash(old)
    await strong.authenticate("alice@example.com", PASSWORD)
    new = await stored_hash(session_factory, user)
    assert new != old
    assert not strong.password_needs_rehash(new)
    assert strong.verify_password(PASSWORD, new)
    await strong.drain_events()
    assert "password.rehashed" in events.names()


async def test_failed_login_does_not_touch_an_outdated_hash(
    manager: AuthManager[User],
    create_user: CreateUser,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Only a successful login upgrades a hash."""
    legacy = plain_bcrypt(PASSWORD)
    bob = await create_user("bob@example.com", hashed_password=legacy)
    with pytest.raises(InvalidCredentialsError):
        await manager.authenticate("bob@example.com", "wrong")
    assert await stored_hash(session_factory, bob) == legacy
