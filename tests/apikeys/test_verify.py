"""Verifying API keys: format first, then one indexed query (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager._core.types import ClientInfo
from authmanager.apikeys import ApiKeyPrincipal, KeyFormat
from authmanager.exceptions import (
    ExpiredTokenError,
    InvalidTokenError,
    Reason,
    RevokedTokenError,
)
from authmanager.hooks import EventName
from tests.apikeys.conftest import Keys, MakeKeys, counting
from tests.app import User
from tests.conftest import CreateUser


def typo(key: str) -> str:
    """The key with its last character changed."""
    return key[:-1] + ("0" if key[-1] != "0" else "1")


async def test_good_key_gives_its_principal(keys: Keys) -> None:
    """A working key verifies to its user, id, name, scopes and expiry."""
    new = await keys.service.create_api_key("u1", name="CI", scopes=["read"])
    principal = await keys.verifier.verify(new.key)
    assert principal == ApiKeyPrincipal(
        user_id="u1", key_id=new.id, name="CI", scopes=("read",), expires_at=new.expires_at
    )


async def test_verification_is_one_select_and_no_write(keys: Keys, engine: AsyncEngine) -> None:
    """A good key costs one SELECT, no BEGIN and no write on the request path."""
    new = await keys.service.create_api_key("u1", name="k")
    await keys.verifier.verify(new.key)  # warm the pool; its use is now pending
    with counting(engine) as counter:
        await keys.verifier.verify(new.key)
    assert counter.verbs == ["SELECT"]
    assert "authmanager_api_keys" in counter.statements[0]
    assert "key_hash" in counter.statements[0]


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (typo, Reason.API_KEY_CHECKSUM),
        (lambda k: k[:10] + ("x" if k[10] != "x" else "y") + k[11:], Reason.API_KEY_CHECKSUM),
        (lambda k: k[:-2], Reason.API_KEY_MALFORMED),
        (lambda k: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", Reason.API_KEY_MALFORMED),
        (lambda k: "", Reason.API_KEY_MALFORMED),
        (lambda k: k + " ", Reason.API_KEY_MALFORMED),
    ],
    ids=["checksum-typo", "body-typo", "truncated", "jwt", "empty", "trailing-space"],
)
async def test_typos_and_non_keys_are_refused_without_a_query(
    keys: Keys, engine: AsyncEngine, mangle: object, reason: Reason
) -> None:
    """A typo, a truncated key or a JWT never reaches the database."""
    new = await keys.service.create_api_key("u1", name="k")
    bad = mangle(new.key)  # type: ignore[operator]
    with counting(engine) as counter, pytest.raises(InvalidTokenError) as info:
        await keys.verifier.verify(bad)
    assert type(info.value) is InvalidTokenError
    assert info.value.reason == reason
    assert counter.statements == []


async def test_unknown_well_formed_key_is_invalid(keys: Keys) -> None:
    """A key with a valid checksum that was never issued is refused as unknown."""
    stranger = KeyFormat("am").generate()
    with pytest.raises(InvalidTokenError) as info:
        await keys.verifier.verify(stranger)
    assert type(info.value) is InvalidTokenError
    assert info.value.reason == Reason.API_KEY_UNKNOWN


async def test_revoked_key_is_refused_from_the_next_request_on(keys: Keys) -> None:
    """After revoke_api_key the key raises RevokedTokenError (api_key_revoked)."""
    new = await keys.service.create_api_key("u1", name="k")
    await keys.verifier.verify(new.key)
    await keys.service.revoke_api_key("u1", new.id)
    with pytest.raises(RevokedTokenError) as info:
        await keys.verifier.verify(new.key)
    assert info.value.reason == Reason.API_KEY_REVOKED


async def test_keys_of_a_deactivated_user_are_refused(keys: Keys) -> None:
    """revoke_user_keys (what deactivate_user calls) stops every key of the user at once."""
    new = [await keys.service.create_api_key("u1", name=f"k{i}") for i in range(2)]
    await keys.service.revoke_user_keys("u1", reason="deactivated")
    for key in new:
        with pytest.raises(RevokedTokenError):
            await keys.verifier.verify(key.key)


async def test_expired_key_is_refused(keys: Keys) -> None:
    """Past its expiry a key raises ExpiredTokenError (api_key_expired)."""
    new = await keys.service.create_api_key("u1", name="k", expires_in=timedelta(hours=1))
    await keys.verifier.verify(new.key)
    await keys.expire(new.id)
    with pytest.raises(ExpiredTokenError) as info:
        await keys.verifier.verify(new.key)
    assert info.value.reason == Reason.API_KEY_EXPIRED


async def test_key_of_another_prefix_is_malformed(make_keys: MakeKeys) -> None:
    """Changing AUTH_API_KEY_PREFIX makes keys of the old prefix look like no key at all."""
    old = make_keys(api_key_prefix="old")
    new = make_keys(api_key_prefix="new")
    issued = await old.service.create_api_key("u1", name="k")
    assert not new.verifier.looks_like_key(issued.key)
    assert old.verifier.looks_like_key(issued.key)
    with pytest.raises(InvalidTokenError) as info:
        await new.verifier.verify(issued.key)
    assert info.value.reason == Reason.API_KEY_MALFORMED


async def test_rejections_are_reported_without_the_key(
    keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    """token.rejected carries the reason, the client, and the key id and user when found."""
    caplog.set_level(logging.DEBUG, logger="authmanager")
    client = ClientInfo(ip_address="198.51.100.7", user_agent="bot/1")
    new = await keys.service.create_api_key("u1", name="k")
    await keys.service.revoke_api_key("u1", new.id)
    unknown = KeyFormat("am").generate()
    for value in (new.key, unknown, typo(new.key)):
        with pytest.raises(InvalidTokenError):
            await keys.verifier.verify(value, client=client)
    await keys.drain()
    revoked, unknown_event, typo_event = keys.events.of(EventName.TOKEN_REJECTED)
    assert (revoked.reason, revoked.user_id, revoked.extra.get("key_id")) == (
        Reason.API_KEY_REVOKED,
        "u1",
        new.id,
    )
    assert (unknown_event.reason, unknown_event.user_id) == (Reason.API_KEY_UNKNOWN, None)
    assert typo_event.reason == Reason.API_KEY_CHECKSUM
    assert all(e.client_ip == "198.51.100.7" for e in (revoked, unknown_event, typo_event))
    assert all(e.extra["credential"] == "api_key" for e in (revoked, unknown_event, typo_event))
    for event in keys.events.events:
        assert new.key not in str(event.as_dict())
        assert unknown not in str(event.as_dict())
    assert new.key not in caplog.text
    assert unknown not in caplog.text


async def test_error_messages_never_contain_the_key(keys: Keys) -> None:
    """No refusal repeats the key it refused."""
    new = await keys.service.create_api_key("u1", name="k")
    for value in (typo(new.key), KeyFormat("am").generate()):
        with pytest.raises(InvalidTokenError) as info:
            await keys.verifier.verify(value)
        assert value not in str(info.value)
        assert value[3:] not in repr(info.value)


async def test_verify_for_user_gives_the_user_on_one_connection(
    keys: Keys, create_user: CreateUser, engine: AsyncEngine
) -> None:
    """verify_for_user returns the principal and the loader's user: two SELECTs, no write."""
    user = await create_user()
    new = await keys.service.create_api_key(str(user.id), name="k", scopes=["read"])
    await keys.verifier.verify_for_user(new.key)
    with counting(engine) as counter:
        principal, loaded = await keys.verifier.verify_for_user(new.key)
    assert principal.user_id == str(user.id)
    assert isinstance(loaded, User)
    assert loaded.email == user.email
    assert counter.verbs == ["SELECT", "SELECT"]


async def test_verify_for_user_refuses_an_inactive_or_deleted_user(
    keys: Keys, create_user: CreateUser, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A key whose user the loader reports inactive or missing is refused (and reported)."""
    inactive = await create_user("off@example.com", is_active=False)
    off = await keys.service.create_api_key(str(inactive.id), name="k")
    orphan = await keys.service.create_api_key("999999", name="k")
    with pytest.raises(RevokedTokenError) as info:
        await keys.verifier.verify_for_user(off.key)
    assert info.value.reason == Reason.USER_INACTIVE
    with pytest.raises(RevokedTokenError) as info:
        await keys.verifier.verify_for_user(orphan.key)
    assert info.value.reason == Reason.USER_NOT_FOUND
    await keys.drain()
    reasons = [e.reason for e in keys.events.of(EventName.TOKEN_REJECTED)]
    assert reasons == [Reason.USER_INACTIVE, Reason.USER_NOT_FOUND]
    assert keys.recorder.pending == 0  # a refused key's use is not recorded
    async with session_factory() as db, db.begin():
        await db.execute(update(User).where(User.id == inactive.id).values(is_active=True))
    principal, _ = await keys.verifier.verify_for_user(off.key)
    assert principal.key_id == off.id


async def test_verify_for_user_refuses_bad_keys_like_verify(keys: Keys) -> None:
    """The per-request path refuses typos, unknown and revoked keys with the same reasons."""
    new = await keys.service.create_api_key("u1", name="k")
    await keys.service.revoke_api_key("u1", new.id)
    with pytest.raises(RevokedTokenError) as info:
        await keys.verifier.verify_for_user(new.key)
    assert info.value.reason == Reason.API_KEY_REVOKED
    with pytest.raises(InvalidTokenError) as info:
        await keys.verifier.verify_for_user(KeyFormat("am").generate())
    assert info.value.reason == Reason.API_KEY_UNKNOWN
    with pytest.raises(InvalidTokenError) as info:
        await keys.verifier.verify_for_user("not a key")
    assert info.value.reason == Reason.API_KEY_MALFORMED


async def test_caller_session_is_used_for_the_lookup(
    keys: Keys, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """With session=, a key created in the same open transaction already verifies."""
    async with session_factory() as db, db.begin():
        new = await keys.service.create_api_key("u1", name="k", session=db)
        principal = await keys.verifier.verify(new.key, session=db)
    assert principal.key_id == new.id
