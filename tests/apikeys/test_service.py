"""Creating, listing and revoking API keys (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager._core.clock import utcnow
from authmanager._core.types import ClientInfo
from authmanager.apikeys import ApiKeyInfo, TooManyApiKeysError
from authmanager.hooks import EventName
from tests.apikeys.conftest import Keys, MakeKeys


async def test_create_returns_the_key_once_and_stores_only_its_hash(keys: Keys) -> None:
    """The secret is in the answer; the row holds its SHA-256 and a short visible prefix."""
    new = await keys.service.create_api_key("u1", name="CI", scopes=["read", "write"])
    assert new.key.startswith("am_")
    assert new.prefix == new.key[:7]
    assert new.scopes == ("read", "write")
    assert new.expires_at == new.created_at + timedelta(days=365)
    assert new.key not in repr(new)
    (row,) = await keys.rows(id=new.id)
    assert row.key_hash == hashlib.sha256(new.key.encode()).hexdigest()
    assert row.user_id == "u1"
    assert row.name == "CI"
    assert row.scopes == ["read", "write"]
    assert row.last_used_at is None
    assert row.revoked_at is None
    assert new.key not in " ".join(str(value) for value in row)


async def test_create_with_expires_in_and_without_a_cap(make_keys: MakeKeys) -> None:
    """expires_in sets the expiry; with no cap configured a key may never expire."""
    keys = make_keys(api_key_max_lifetime_days=None)
    forever = await keys.service.create_api_key("u1", name="forever")
    hour = await keys.service.create_api_key("u1", name="hour", expires_in=timedelta(hours=1))
    assert forever.expires_at is None
    assert hour.expires_at == hour.created_at + timedelta(hours=1)
    (row,) = await keys.rows(id=forever.id)
    assert row.expires_at is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "ok", "scopes": ["bad scope"]},
        {"name": "ok", "scopes": "read"},
        {"name": "ok", "expires_in": timedelta(days=366)},
        {"name": "ok", "expires_in": timedelta(0)},
    ],
    ids=["empty-name", "bad-scope", "scope-string", "too-long", "zero-lifetime"],
)
async def test_bad_input_raises_value_error_and_stores_nothing(
    keys: Keys, kwargs: dict[str, object]
) -> None:
    """A bad name, scope or lifetime is refused before anything is written or reported."""
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are tested in test_rules
        await keys.service.create_api_key("u1", **kwargs)  # type: ignore[arg-type]
    await keys.drain()
    assert await keys.rows() == []
    assert keys.events.of(EventName.API_KEY_CREATED) == []


async def test_list_shows_working_keys_newest_first_without_secrets(keys: Keys) -> None:
    """The list has every field but the key; revoked keys and other users' keys are absent."""
    first = await keys.service.create_api_key("u1", name="first", scopes=["read"])
    second = await keys.service.create_api_key("u1", name="second")
    gone = await keys.service.create_api_key("u1", name="gone")
    await keys.service.create_api_key("u2", name="other user")
    assert await keys.service.revoke_api_key("u1", gone.id)
    listed = await keys.service.list_api_keys("u1")
    assert [k.id for k in listed] == [second.id, first.id]
    assert listed[1] == ApiKeyInfo(
        id=first.id,
        name="first",
        prefix=first.prefix,
        scopes=("read",),
        created_at=first.created_at,
        expires_at=first.expires_at,
        last_used_at=None,
    )
    assert all(k.created_at.tzinfo is not None for k in listed)
    assert not hasattr(listed[0], "key")


async def test_list_leaves_out_expired_keys(make_keys: MakeKeys) -> None:
    """A key past its expiry is not listed and no longer counts against the cap."""
    keys = make_keys(api_keys_max_per_user=1)
    short = await keys.service.create_api_key("u1", name="short", expires_in=timedelta(hours=1))
    await keys.expire(short.id)
    assert await keys.service.list_api_keys("u1") == []
    (row,) = await keys.rows(id=short.id)
    assert row.revoked_at is None
    fresh = await keys.service.create_api_key("u1", name="fresh")
    assert [k.id for k in await keys.service.list_api_keys("u1")] == [fresh.id]


async def test_revoke_never_touches_another_users_key(keys: Keys) -> None:
    """Revoking with the wrong user id returns False and leaves the key working."""
    new = await keys.service.create_api_key("owner", name="mine")
    assert await keys.service.revoke_api_key("intruder", new.id) is False
    (row,) = await keys.rows(id=new.id)
    assert row.revoked_at is None
    assert (await keys.verifier.verify(new.key)).key_id == new.id
    await keys.drain()
    assert keys.events.of(EventName.API_KEY_REVOKED) == []


async def test_revoke_is_true_once_then_false(keys: Keys) -> None:
    """The first revocation returns True and records why; again, or an unknown id, False."""
    new = await keys.service.create_api_key("u1", name="k")
    assert await keys.service.revoke_api_key("u1", new.id) is True
    assert await keys.service.revoke_api_key("u1", new.id) is False
    assert await keys.service.revoke_api_key("u1", "no-such-key") is False
    (row,) = await keys.rows(id=new.id)
    assert row.revoked_at is not None
    assert row.revoke_reason == "revoked"


async def test_revoke_user_keys_ends_every_working_key_of_that_user_only(keys: Keys) -> None:
    """revoke_user_keys counts what it revoked; other users' keys keep working."""
    mine = [await keys.service.create_api_key("u1", name=f"k{i}") for i in range(3)]
    theirs = await keys.service.create_api_key("u2", name="theirs")
    await keys.service.revoke_api_key("u1", mine[0].id)
    assert await keys.service.revoke_user_keys("u1", reason="deactivated") == 2
    assert await keys.service.revoke_user_keys("u1", reason="deactivated") == 0
    reasons = {row.id: row.revoke_reason for row in await keys.rows(user_id="u1")}
    assert reasons == {mine[0].id: "revoked", mine[1].id: "deactivated", mine[2].id: "deactivated"}
    assert (await keys.verifier.verify(theirs.key)).user_id == "u2"
    await keys.drain()
    revoked = keys.events.of(EventName.API_KEY_REVOKED)
    assert sorted((str(e.extra["key_id"]), e.reason) for e in revoked[1:]) == sorted(
        [(mine[1].id, "deactivated"), (mine[2].id, "deactivated")]
    )


@pytest.mark.parametrize(
    ("cause", "setting"),
    [
        ("logout_all", "api_keys_on_logout_all"),
        ("password_change", "api_keys_on_password_change"),
        ("password_reset", "api_keys_on_password_reset"),
    ],
)
@pytest.mark.parametrize("policy", ["keep", "revoke"])
async def test_policy_decides_what_an_account_event_does_to_keys(
    make_keys: MakeKeys, cause: str, setting: str, policy: str
) -> None:
    """revoke_user_keys_for follows its setting: `keep` revokes nothing, `revoke` everything."""
    keys = make_keys(**{setting: policy})
    new = await keys.service.create_api_key("u1", name="k")
    count = await keys.service.revoke_user_keys_for(cause, "u1")  # type: ignore[arg-type]
    (row,) = await keys.rows(id=new.id)
    if policy == "keep":
        assert count == 0
        assert row.revoked_at is None
    else:
        assert count == 1
        assert row.revoke_reason == cause


async def test_default_policies_keep_keys_on_logout_all_and_revoke_on_password_events(
    keys: Keys,
) -> None:
    """With the defaults, logout-all keeps the keys; a password change or reset revokes them."""
    await keys.service.create_api_key("u1", name="a")
    assert await keys.service.revoke_user_keys_for("logout_all", "u1") == 0
    assert await keys.service.revoke_user_keys_for("password_change", "u1") == 1
    await keys.service.create_api_key("u1", name="b")
    assert await keys.service.revoke_user_keys_for("password_reset", "u1") == 1


async def test_cap_per_user_counts_only_working_keys(make_keys: MakeKeys) -> None:
    """Past the cap creation raises TooManyApiKeysError; revoking one frees a place."""
    keys = make_keys(api_keys_max_per_user=2)
    first = await keys.service.create_api_key("u1", name="1")
    await keys.service.create_api_key("u1", name="2")
    with pytest.raises(TooManyApiKeysError) as info:
        await keys.service.create_api_key("u1", name="3")
    assert info.value.limit == 2
    assert len(await keys.rows(user_id="u1")) == 2
    await keys.service.create_api_key("u2", name="other user is not capped by u1")
    await keys.service.revoke_api_key("u1", first.id)
    await keys.service.create_api_key("u1", name="3")


async def test_concurrent_creations_never_pass_the_cap(make_keys: MakeKeys) -> None:
    """Ten creations at once with a cap of three: exactly three keys exist."""
    keys = make_keys(api_keys_max_per_user=3)
    results = await asyncio.gather(
        *(keys.service.create_api_key("u1", name=f"k{i}") for i in range(10)),
        return_exceptions=True,
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, TooManyApiKeysError)]
    assert len(created) == 3
    assert len(refused) == 7
    assert len(await keys.rows(user_id="u1")) == 3


async def test_caller_session_shares_its_transaction(
    keys: Keys, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """With session=, the key is written in the caller's transaction and rolled back with it."""
    async with session_factory() as db:
        async with db.begin():
            kept = await keys.service.create_api_key("u1", name="kept", session=db)
        outer = db.begin()
        await outer.start()
        await keys.service.create_api_key("u1", name="undone", session=db)
        await outer.rollback()
    assert [row.id for row in await keys.rows(user_id="u1")] == [kept.id]


async def test_events_name_the_key_by_id_and_never_carry_it(
    keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    """api_key.created / api_key.revoked carry user, key id, scopes and client, not the key."""
    caplog.set_level(logging.DEBUG, logger="authmanager")
    client = ClientInfo(ip_address="203.0.113.9", user_agent="curl/8")
    new = await keys.service.create_api_key("u1", name="k", scopes=["read"], client=client)
    await keys.service.revoke_api_key("u1", new.id, client=client)
    await keys.drain()
    created = keys.events.last(EventName.API_KEY_CREATED)
    revoked = keys.events.last(EventName.API_KEY_REVOKED)
    assert created.user_id == revoked.user_id == "u1"
    assert created.extra == {"key_id": new.id, "scopes": "read"}
    assert revoked.extra == {"key_id": new.id}
    assert revoked.reason == "revoked"
    assert created.client_ip == "203.0.113.9"
    assert created.user_agent == "curl/8"
    for event in keys.events.events:
        assert new.key not in str(event.as_dict())
    assert new.key not in caplog.text


async def test_purge_deletes_revoked_and_expired_keys_only(keys: Keys) -> None:
    """purge_expired removes dead rows and keeps working keys."""
    live = await keys.service.create_api_key("u1", name="live")
    revoked = await keys.service.create_api_key("u1", name="revoked")
    short = await keys.service.create_api_key("u1", name="short")
    await keys.service.revoke_api_key("u1", revoked.id)
    await keys.expire(short.id)
    assert await keys.service.purge_expired() == 2
    assert [row.id for row in await keys.rows()] == [live.id]
    assert utcnow() < (live.expires_at or utcnow())


async def test_concurrent_creations_never_pass_the_cap_with_manager_sqlite_settings(
    manager: object, make_keys: MakeKeys
) -> None:
    """The same race on an engine the manager configured (SQLite: BEGIN IMMEDIATE)."""
    await test_concurrent_creations_never_pass_the_cap(make_keys)


async def test_refusal_at_the_cap_inside_a_caller_session_leaves_nothing(
    make_keys: MakeKeys, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A caller that catches TooManyApiKeysError and commits stores no extra key."""
    keys = make_keys(api_keys_max_per_user=1)
    await keys.service.create_api_key("u1", name="only")
    async with session_factory() as db, db.begin():
        with pytest.raises(TooManyApiKeysError):
            await keys.service.create_api_key("u1", name="one too many", session=db)
    assert [row.name for row in await keys.rows(user_id="u1")] == ["only"]
