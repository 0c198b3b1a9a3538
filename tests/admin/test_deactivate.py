"""`deactivate_user`: sessions, tokens and API keys end together, in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager.exceptions import RevokedTokenError
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.apikeys.support import key_app, key_header
from tests.app import User
from tests.conftest import CreateUser, bearer, client_for


@pytest.fixture
async def client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(key_app(manager)) as c:
        yield c


async def test_everything_of_the_user_is_refused_from_the_next_request(
    manager: AuthManager[User], user: User, client: httpx.AsyncClient, events: CapturingHook
) -> None:
    """Tokens (every path), refresh and keys all refused; returns tokens + keys; one event."""
    uid = str(user.id)
    pairs = [await manager.create_token_pair({"sub": uid}) for _ in range(2)]
    key = await manager.create_api_key(uid, name="k", scopes=["read"])
    assert await manager.deactivate_user(uid) == 4 + 1  # two sessions' tokens, one key
    for pair in pairs:
        for path in ("/me", "/claims", "/read"):
            assert (await client.get(path, headers=bearer(pair.access_token))).status_code == 401
        with pytest.raises(RevokedTokenError):
            await manager.refresh(pair.refresh_token)
    for path in ("/read", "/key-user", "/principal"):
        assert (await client.get(path, headers=key_header(key.key))).status_code == 401
    await manager.drain_events()
    deactivated = events.last(EventName.USER_DEACTIVATED)
    assert (deactivated.user_id, deactivated.reason) == (uid, "user_deactivated")
    assert deactivated.extra == {"revoked": 5}
    assert [e.extra["key_id"] for e in events.of(EventName.API_KEY_REVOKED)] == [key.id]


async def test_in_the_applications_transaction_with_its_own_change(
    manager: AuthManager[User], user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """With `session=`, the user's own row and the revocations commit together."""
    uid = str(user.id)
    pair = await manager.create_token_pair({"sub": uid})
    key = await manager.create_api_key(uid, name="k")
    async with session_factory.begin() as db:
        await db.execute(update(User).where(User.id == user.id).values(is_active=False))
        await manager.deactivate_user(uid, session=db)
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)
    with pytest.raises(RevokedTokenError):
        await manager.verify_api_key(key.key)


async def test_a_rolled_back_deactivation_changes_nothing(
    manager: AuthManager[User], user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The application's transaction rolls back: sessions and keys still work."""
    uid = str(user.id)
    pair = await manager.create_token_pair({"sub": uid})
    key = await manager.create_api_key(uid, name="k")
    async with session_factory() as db:
        transaction = db.begin()
        await transaction.start()
        await manager.deactivate_user(uid, session=db)
        await transaction.rollback()
    assert (await manager.verify_token(pair.access_token)).sub == uid
    assert (await manager.verify_api_key(key.key)).sub == uid


async def test_a_login_after_deactivation_is_the_applications_call(
    manager: AuthManager[User], user: User, create_user: CreateUser
) -> None:
    """Other users are untouched; the deactivated user's later logins are up to the loader."""
    other = await create_user("bob@example.com")
    theirs = await manager.create_token_pair({"sub": str(other.id)})
    their_key = await manager.create_api_key(str(other.id), name="k")
    await manager.deactivate_user(str(user.id))
    assert (await manager.verify_token(theirs.access_token)).sub == str(other.id)
    assert (await manager.verify_api_key(their_key.key)).sub == str(other.id)
    later = await manager.create_token_pair({"sub": str(user.id)})
    assert (await manager.verify_token(later.access_token)).sub == str(user.id)
