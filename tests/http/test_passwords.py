"""Passwords against OWASP ASVS 5 V6.2: long passphrases, no truncation, Argon2id, upgrades."""

from __future__ import annotations

from typing import Any

from passlib.hash import bcrypt
from sqlalchemy import select

from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import MakeManager, client_for, login

# 80 characters, 104 UTF-8 bytes: well past bcrypt's 72-byte limit.
LONG = "Tränen im Regen, Zürich → Kyōto: ünïcödé passphrase with spaces and 12345 digits!"
PREFIX_72 = "x" * 72


async def _stored_hash(session_factory: Any, user_id: int) -> str:
    async with session_factory() as db:
        value = await db.scalar(select(User.hashed_password).where(User.id == user_id))
    assert isinstance(value, str)
    return value


async def test_long_multibyte_password_logs_in(client: Any, create_user: Any) -> None:
    """An 80-character passphrase with multibyte characters works end to end."""
    assert len(LONG) >= 64
    assert len(LONG.encode()) > 72
    await create_user(password=LONG)
    response = await login(client, password=LONG)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"


async def test_password_differing_after_byte_72_is_refused(
    client: Any, create_user: Any, manager: Any, events: CapturingHook
) -> None:
    """Two passwords equal in their first 72 bytes are different passwords (no truncation)."""
    await create_user(password=PREFIX_72 + "-the-real-ending")
    response = await login(client, password=PREFIX_72 + "-another-ending")
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_grant"
    await manager.drain_events()
    assert [e.reason for e in events.of(EventName.LOGIN_FAILED)] == ["bad_credentials"]
    assert (await login(client, password=PREFIX_72 + "-the-real-ending")).status_code == 200


async def test_argon2id_scheme_hashes_and_logs_in(
    make_manager: MakeManager, session_factory: Any
) -> None:
    """`password_scheme="argon2"` stores Argon2id hashes, and they verify at login."""
    auth = make_manager(password_scheme="argon2")
    hashed = await auth.hash_password_async(LONG)
    assert hashed.startswith("$argon2id$")
    async with session_factory() as db, db.begin():
        db.add(User(email="alice@example.com", hashed_password=hashed, is_active=True))
    async with client_for(make_app(auth)) as client:
        response = await login(client, password=LONG)
    assert response.status_code == 200, response.text
    assert auth.password_needs_rehash(hashed) is False


async def test_bcrypt_hash_is_upgraded_to_argon2id_at_login(
    make_manager: MakeManager, create_user: Any, session_factory: Any, events: CapturingHook
) -> None:
    """A legacy bcrypt hash verifies once, then is replaced by Argon2id."""
    legacy = bcrypt.using(rounds=4).hash("legacy password")
    user = await create_user(hashed_password=legacy)
    auth = make_manager(password_scheme="argon2")
    assert auth.password_needs_rehash(legacy) is True
    async with client_for(make_app(auth)) as client:
        response = await login(client, password="legacy password")
        assert response.status_code == 200, response.text
        upgraded = await _stored_hash(session_factory, user.id)
        assert upgraded.startswith("$argon2id$")
        await auth.drain_events()
        assert events.last(EventName.PASSWORD_REHASHED).user_id == str(user.id)
        assert (await login(client, password="legacy password")).status_code == 200
    assert await _stored_hash(session_factory, user.id) == upgraded
