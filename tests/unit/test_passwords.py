"""Password hashing, verification and the rehash policy: no database."""

from __future__ import annotations

import pytest
from passlib.hash import bcrypt

from authmanager import AuthManager
from tests.app import User
from tests.support.factories import PASSWORD, MakeManager, plain_bcrypt


def test_hash_verifies_only_the_same_password(manager: AuthManager[User]) -> None:
    """A fresh hash verifies its password, refuses another, and needs no rehash."""
    hashed = manager.hash_password(PASSWORD)
    assert hashed.startswith("$bcrypt-sha256$")
    assert PASSWORD not in hashed
    assert manager.verify_password(PASSWORD, hashed) is True
    assert manager.verify_password(PASSWORD + "!", hashed) is False
    assert manager.password_needs_rehash(hashed) is False


def test_two_hashes_of_one_password_differ(manager: AuthManager[User]) -> None:
    """Hashes are salted: the same password hashes differently twice, both verify."""
    first, second = manager.hash_password(PASSWORD), manager.hash_password(PASSWORD)
    assert first != second
    assert manager.verify_password(PASSWORD, first)
    assert manager.verify_password(PASSWORD, second)


def test_passwords_sharing_72_bytes_do_not_both_verify(manager: AuthManager[User]) -> None:
    """No silent bcrypt truncation: a shared 72-byte prefix is not enough to verify."""
    prefix = "p" * 72
    hashed = manager.hash_password(prefix + "-one")
    assert manager.verify_password(prefix + "-one", hashed) is True
    assert manager.verify_password(prefix + "-two", hashed) is False
    assert manager.verify_password(prefix, hashed) is False


def test_multibyte_password_past_72_bytes_is_not_truncated(manager: AuthManager[User]) -> None:
    """72 bytes of multi-byte characters plus a differing tail do not collide."""
    prefix = "é" * 36  # 72 UTF-8 bytes
    hashed = manager.hash_password(prefix + "a")
    assert manager.verify_password(prefix + "a", hashed) is True
    assert manager.verify_password(prefix + "b", hashed) is False


def test_too_long_password_is_refused_before_hashing(manager: AuthManager[User]) -> None:
    """A password over `max_password_bytes` (in UTF-8 bytes) raises ValueError."""
    limit = manager.settings.max_password_bytes
    manager.hash_password("x" * limit)  # exactly at the limit is fine
    with pytest.raises(ValueError, match="longer than 1024 bytes"):
        manager.hash_password("x" * (limit + 1))
    with pytest.raises(ValueError, match="longer than"):
        manager.hash_password("é" * (limit // 2 + 1))  # few characters, too many bytes
    with pytest.raises(ValueError, match="longer than"):
        manager.verify_password("x" * (limit + 1), manager.hash_password("x"))


def test_plain_bcrypt_hash_verifies_and_needs_rehash(manager: AuthManager[User]) -> None:
    """A legacy plain-bcrypt hash still verifies but is reported for upgrade."""
    legacy = plain_bcrypt(PASSWORD)
    assert manager.verify_password(PASSWORD, legacy) is True
    assert manager.verify_password("wrong", legacy) is False
    assert manager.password_needs_rehash(legacy) is True


def test_lower_cost_hash_needs_rehash(
    manager: AuthManager[User], make_manager: MakeManager
) -> None:
    """A hash below the configured cost needs a rehash; one at the cost does not."""
    strong = make_manager(bcrypt_rounds=5)
    weak_hash = manager.hash_password(PASSWORD)  # cost 4
    assert strong.verify_password(PASSWORD, weak_hash) is True
    assert strong.password_needs_rehash(weak_hash) is True
    assert strong.password_needs_rehash(strong.hash_password(PASSWORD)) is False


def test_malformed_hash_never_verifies_and_needs_rehash(manager: AuthManager[User]) -> None:
    """Garbage in the hash column is a failed check, not a crash."""
    for junk in ["", "not-a-hash", "$2b$04$short", "$bcrypt-sha256$garbage"]:
        assert manager.verify_password(PASSWORD, junk) is False
        assert manager.password_needs_rehash(junk) is True


async def test_hash_password_async_matches_the_sync_api(manager: AuthManager[User]) -> None:
    """The off-loop hash verifies with the sync API and is refused when too long."""
    hashed = await manager.hash_password_async(PASSWORD)
    assert manager.verify_password(PASSWORD, hashed)
    with pytest.raises(ValueError, match="longer than"):
        await manager.hash_password_async("x" * 2000)


@pytest.mark.parametrize("password", ["p" * 1025, "€" * 342], ids=["ascii", "multibyte"])
def test_password_over_the_byte_bound_is_never_hashed(
    password: str, manager: AuthManager[User]
) -> None:
    """Hashing or verifying a password over `max_password_bytes` (1024) raises at once."""
    with pytest.raises(ValueError, match="longer than"):
        manager.hash_password(password)
    with pytest.raises(ValueError, match="longer than"):
        manager.verify_password(password, bcrypt.using(rounds=4).hash("x"))
