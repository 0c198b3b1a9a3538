"""PasswordHasher: passlib's CryptContext, a length policy, and hashing off the event loop."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from passlib.context import CryptContext

from authmanager._core.settings import AuthSettings

__all__ = ["PasswordHasher", "PasswordTooLongError"]

T = TypeVar("T")


class PasswordTooLongError(ValueError):
    """The password exceeds `max_password_bytes`; it was not hashed."""


class PasswordHasher:
    """Hash and verify passwords; the async wrappers run on a bounded thread pool.

    New hashes use bcrypt with an HMAC-SHA256 pre-hash (passlib's `bcrypt_sha256`, so no
    72-byte truncation) or Argon2id. Plain `bcrypt` hashes, and hashes with a lower cost,
    still verify and are reported by `needs_rehash` for upgrade at login.
    """

    def __init__(self, settings: AuthSettings) -> None:
        schemes = [settings.password_scheme, "bcrypt_sha256", "bcrypt", "argon2"]
        ordered = list(dict.fromkeys(schemes))
        if settings.password_scheme != "argon2" and not _argon2_available():
            ordered.remove("argon2")
        elif settings.password_scheme == "argon2" and not _argon2_available():
            raise ImportError(
                "AUTH_PASSWORD_SCHEME=argon2 needs argon2-cffi: pip install 'authmanager[argon2]'."
            )
        self._context = CryptContext(
            schemes=ordered,
            default=settings.password_scheme,
            deprecated=[s for s in ordered if s != settings.password_scheme],
            bcrypt_sha256__rounds=settings.bcrypt_rounds,
            bcrypt__rounds=settings.bcrypt_rounds,
        )
        self._max_bytes = settings.max_password_bytes
        workers = settings.password_hash_workers or max(1, (os.cpu_count() or 2) - 1)
        # A dedicated limiter: a burst of logins waits here instead of starving the
        # shared thread pool that the database driver and the app also use.
        self._limiter = anyio.CapacityLimiter(workers)
        self._dummy_hash: str | None = None

    # --- synchronous API -------------------------------------------------------------
    def check_length(self, password: str) -> None:
        """Raise `PasswordTooLongError` when *password* exceeds the byte bound."""
        if len(password) > self._max_bytes or len(password.encode("utf-8")) > self._max_bytes:
            raise PasswordTooLongError(
                f"The password is longer than {self._max_bytes} bytes; it was not hashed."
            )

    def hash(self, password: str) -> str:
        """Return a new hash of *password* in the configured scheme."""
        self.check_length(password)
        return self._context.hash(password)

    def verify(self, password: str, hashed: str) -> bool:
        """Return whether *password* matches *hashed*; false for a malformed hash."""
        self.check_length(password)
        try:
            return bool(self._context.verify(password, hashed))
        except (ValueError, TypeError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        """Return whether *hashed* uses an outdated scheme or cost."""
        try:
            return bool(self._context.needs_update(hashed))
        except (ValueError, TypeError):
            return True

    # --- off the event loop ----------------------------------------------------------
    async def _offload(self, func: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(func, limiter=self._limiter)

    async def hash_async(self, password: str) -> str:
        """Hash on the hashing thread pool."""
        return await self._offload(lambda: self.hash(password))

    async def verify_async(self, password: str, hashed: str | None) -> bool:
        """Verify on the hashing thread pool; against a dummy hash when *hashed* is None.

        The dummy comparison makes an unknown login cost the same as a wrong password.
        """
        if hashed is None:
            dummy = await self.dummy_hash()
            await self._offload(lambda: self.verify(password, dummy))
            return False
        return await self._offload(lambda: self.verify(password, hashed))

    async def dummy_hash(self) -> str:
        """Return this hasher's dummy hash, computing it once, off the loop."""
        if self._dummy_hash is None:
            value = secrets.token_urlsafe(16)
            self._dummy_hash = await self._offload(lambda: self._context.hash(value))
        return self._dummy_hash


def _argon2_available() -> bool:
    try:
        import argon2  # noqa: F401
    except ImportError:
        return False
    return True
