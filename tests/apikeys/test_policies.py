"""What logout-all, a password change and a password reset do to API keys (the settings).

Defaults: logout-all keeps keys; a password change and a reset revoke them. Each policy
runs in the transaction that ends the sessions (SQLite and PostgreSQL).
"""

from __future__ import annotations

import pytest

from authmanager import AuthManager
from authmanager._core.passwords import PasswordHasher
from authmanager._core.ratelimit import RateLimiter
from authmanager.accounts import Purpose
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._service import AccountService
from authmanager.accounts._tokens import ActionTokens
from authmanager.exceptions import RevokedTokenError
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook, CapturingSender
from tests.accounts.support import AccountUsers
from tests.apikeys.support import access_token, key_app
from tests.app import User
from tests.conftest import CreateUser, MakeManager, bearer, client_for

NEW_PASSWORD = "a brand new passphrase"


async def _live_keys(manager: AuthManager[User], user: User) -> list[str]:
    return [k.name for k in await manager.list_api_keys(str(user.id))]


@pytest.mark.parametrize(("policy", "left"), [(None, ["k"]), ("keep", ["k"]), ("revoke", [])])
async def test_logout_all_applies_its_key_policy(
    make_manager: MakeManager,
    create_user: CreateUser,
    events: CapturingHook,
    policy: str | None,
    left: list[str],
) -> None:
    """`POST /logout-all` keeps keys by default; `api_keys_on_logout_all=revoke` ends them."""
    manager = make_manager(**({} if policy is None else {"api_keys_on_logout_all": policy}))
    user = await create_user()
    key = await manager.create_api_key(str(user.id), name="k")
    async with client_for(key_app(manager)) as client:
        token = await access_token(client)
        response = await client.post("/auth/logout-all", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert await _live_keys(manager, user) == left
    await manager.drain_events()
    logout_all = events.last(EventName.LOGOUT_ALL)
    assert logout_all.extra.get("api_keys_revoked", 0) == (1 - len(left))
    if not left:
        with pytest.raises(RevokedTokenError):
            await manager.verify_api_key(key.key)
        assert events.last(EventName.API_KEY_REVOKED).reason == "logout_all"


async def test_revoke_others_and_revoke_all_user_tokens_leave_keys(
    manager: AuthManager[User], user: User
) -> None:
    """Only logout-all has a key policy: revoke-all from code and revoke-others keep keys."""
    await manager.create_api_key(str(user.id), name="k")
    async with client_for(key_app(manager)) as client:
        token = await access_token(client)
        others = await client.post("/auth/sessions/revoke-others", headers=bearer(token))
    assert others.status_code == 200
    await manager.revoke_all_user_tokens(str(user.id))
    assert await _live_keys(manager, user) == ["k"]


@pytest.mark.parametrize(("policy", "left"), [(None, []), ("revoke", []), ("keep", ["k"])])
async def test_password_change_applies_its_key_policy(
    make_manager: MakeManager,
    create_user: CreateUser,
    events: CapturingHook,
    policy: str | None,
    left: list[str],
) -> None:
    """`change_password` revokes keys by default; `api_keys_on_password_change=keep` keeps them."""
    settings = {} if policy is None else {"api_keys_on_password_change": policy}
    manager = make_manager(**settings)
    user = await create_user()
    await manager.create_api_key(str(user.id), name="k")
    await manager.change_password(user, NEW_PASSWORD)
    assert await _live_keys(manager, user) == left
    await manager.drain_events()
    revoked = events.of(EventName.API_KEY_REVOKED)
    assert [e.reason for e in revoked] == (["password_change"] if not left else [])


def _accounts(
    manager: AuthManager[User],
) -> tuple[AccountService[User], CapturingSender, Outbox]:
    """The account flows as the composition root builds them: the manager's revoker."""
    settings = manager.settings
    database = manager._store.database  # the manager's own Database (state cache included)
    sender = CapturingSender()
    outbox = Outbox(sender, events=manager._events, timeout=2.0)
    service: AccountService[User] = AccountService(
        settings=settings,
        database=database,
        users=AccountUsers(),
        hasher=PasswordHasher(settings),
        tokens=ActionTokens(database=database),
        outbox=outbox,
        limiter=RateLimiter("memory://"),
        events=manager._events,
        sessions=manager._sessions,
        revoker=manager._revocations,
    )
    return service, sender, outbox


@pytest.mark.parametrize(("policy", "left"), [(None, []), ("keep", ["k"])])
async def test_password_reset_applies_its_key_policy(
    make_manager: MakeManager,
    create_user: CreateUser,
    events: CapturingHook,
    policy: str | None,
    left: list[str],
) -> None:
    """A reset through the account flows ends sessions and, by default, every API key."""
    settings = {} if policy is None else {"api_keys_on_password_reset": policy}
    manager = make_manager(**settings)
    user = await create_user()
    pair = await manager.create_token_pair({"sub": str(user.id)})
    await manager.create_api_key(str(user.id), name="k")
    service, sender, outbox = _accounts(manager)
    await service.request_password_reset(user.email)
    await outbox.drain()  # the message is sent in the background
    token = sender.last(Purpose.RESET_PASSWORD).token
    assert token is not None
    assert await service.reset_password(token, NEW_PASSWORD) == 2
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)
    assert await _live_keys(manager, user) == left
    await manager.drain_events()
    assert [e.reason for e in events.of(EventName.API_KEY_REVOKED)] == (
        ["password_reset"] if not left else []
    )


async def test_deactivation_revokes_keys_whatever_the_policies(
    make_manager: MakeManager, create_user: CreateUser, events: CapturingHook
) -> None:
    """Every policy set to keep: `deactivate_user` still revokes every key."""
    manager = make_manager(
        api_keys_on_logout_all="keep",
        api_keys_on_password_change="keep",
        api_keys_on_password_reset="keep",
    )
    user = await create_user()
    await manager.create_api_key(str(user.id), name="a")
    await manager.create_api_key(str(user.id), name="b")
    assert await manager.deactivate_user(str(user.id)) == 2  # no session, two keys
    assert await _live_keys(manager, user) == []
    await manager.drain_events()
    assert len(events.of(EventName.API_KEY_REVOKED)) == 2


async def test_a_failed_policy_step_rolls_the_logout_all_back(
    manager: AuthManager[User], user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions and keys end together or not at all: a key step that fails undoes both."""
    pair = await manager.create_token_pair({"sub": str(user.id)})

    async def fail(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the key table is gone")

    monkeypatch.setattr(manager._api_keys, "revoke_user_keys", fail)
    with pytest.raises(RuntimeError):
        await manager.deactivate_user(str(user.id))
    payload = await manager.verify_token(pair.access_token)
    assert payload.sub == str(user.id)


async def test_client_sees_logout_all_keep_the_key(manager: AuthManager[User], user: User) -> None:
    """Over HTTP: after logout-all (default keep) the key still passes `require_scopes`."""
    key = await manager.create_api_key(str(user.id), name="k", scopes=["read"])
    async with client_for(key_app(manager)) as client:
        token = await access_token(client)
        await client.post("/auth/logout-all", headers=bearer(token))
        assert (await client.get("/me", headers=bearer(token))).status_code == 401
        response = await client.get("/read", headers={"X-API-Key": key.key})
    assert response.status_code == 200, response.text
