"""`AuthManager` methods: hashing, authentication, password changes."""

from __future__ import annotations

from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.passwords import PasswordHasher
from authmanager._core.types import ClientInfo
from authmanager._services.logins import LoginService

__all__ = ["PasswordMethods"]

UserT = TypeVar("UserT")
_NO_CLIENT = ClientInfo()


class PasswordMethods(Generic[UserT]):
    """Password hashing and checks."""

    _passwords: PasswordHasher
    _logins: LoginService[UserT]

    def hash_password(self, password: str) -> str:
        """Hash *password* (bcrypt with an HMAC-SHA256 pre-hash, or Argon2id).

        Blocks for the hash's cost: from async code, prefer `await hash_password_async()`.

        Raises:
            ValueError: the password is longer than `max_password_bytes`.
        """
        return self._passwords.hash(password)

    async def hash_password_async(self, password: str) -> str:
        """Hash *password* on the hashing thread pool, off the event loop.

        Raises:
            ValueError: the password is longer than `max_password_bytes`.
        """
        return await self._passwords.hash_async(password)

    def verify_password(self, password: str, hashed: str) -> bool:
        """Return whether *password* matches *hashed*; never truncates at 72 bytes.

        Raises:
            ValueError: the password is longer than `max_password_bytes`.
        """
        return self._passwords.verify(password, hashed)

    def password_needs_rehash(self, hashed: str) -> bool:
        """Return whether *hashed* uses an outdated scheme or cost.

        Raises:
            Nothing: a malformed hash simply needs a rehash.
        """
        return self._passwords.needs_rehash(hashed)

    async def authenticate(
        self,
        login: str,
        password: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> UserT:
        """Return the user whose login and password match, off the event loop.

        An unknown login, a wrong password and an inactive user cost the same (a
        dummy hash is verified for an unknown login) and raise the same error, reason
        `bad_credentials`; the `login.failed` event says which it was. Failed
        attempts count towards the three login limits (per login name and client
        address, per login name, per address), checked before any hashing. An
        outdated hash is upgraded when the loader has `set_password_hash`.

        Raises:
            InvalidCredentialsError: wrong login or password, or an inactive user.
            RateLimitExceededError: too many failed attempts; see `retry_after`.
            TokenStoreUnavailableError: the database or rate-limit storage is down.
        """
        return await self._logins.authenticate(login, password, client or _NO_CLIENT, session)

    async def change_password(
        self,
        user: UserT,
        new_password: str,
        *,
        keep_session_id: str | None = None,
        session: AsyncSession | None = None,
    ) -> int:
        """Store a new password hash for *user* and end every other session.

        Hashing runs off the event loop; the loader's `set_password_hash` stores the
        hash, in the same transaction as the revocation. Returns the count of tokens
        revoked.

        Raises:
            TypeError: the user loader has no `set_password_hash`.
            ValueError: the password is longer than `max_password_bytes`.
            TokenStoreUnavailableError: the database failed; nothing was changed.
        """
        return await self._logins.change_password(user, new_password, keep_session_id, session)
