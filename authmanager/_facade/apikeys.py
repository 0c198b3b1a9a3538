"""`AuthManager` methods: API keys (create, list, revoke, verify)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.types import ClientInfo
from authmanager.apikeys import (
    ApiKeyInfo,
    ApiKeyPrincipal,
    ApiKeyService,
    ApiKeyVerifier,
    NewApiKey,
)

__all__ = ["ApiKeyMethods"]


class ApiKeyMethods:
    """Long-lived, scoped credentials for scripts and integrations."""

    _api_keys: ApiKeyService
    _key_verifier: ApiKeyVerifier

    async def create_api_key(
        self,
        user_id: str,
        *,
        name: str,
        scopes: Iterable[str] = (),
        expires_in: timedelta | None = None,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> NewApiKey:
        """Create an API key for the user; its secret is in the result, this once.

        The key is `{api_key_prefix}_` + 190 random bits + a checksum; only its SHA-256
        is stored. Without *expires_in* it lives `api_key_max_lifetime_days`. Scopes
        are granted as given: check first that the user may hold them.

        Raises:
            ValueError: a bad name, scope or lifetime; nothing is stored.
            TooManyApiKeysError: the user holds `api_keys_max_per_user` live keys
                (a `ValueError` too).
            TokenStoreUnavailableError: the database failed; nothing is stored.

        Example:
            ```python
            new = await auth.create_api_key(user_id, name="CI", scopes=["deploy"])
            print(new.key)  # show it once; it cannot be read again
            ```
        """
        return await self._api_keys.create_api_key(
            str(user_id),
            name=name,
            scopes=scopes,
            expires_in=expires_in,
            client=client,
            session=session,
        )

    async def list_api_keys(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[ApiKeyInfo]:
        """Return the user's working keys (neither revoked nor expired), newest first.

        Raises:
            TokenStoreUnavailableError: the database could not be read.
        """
        return await self._api_keys.list_api_keys(str(user_id), session=session)

    async def revoke_api_key(
        self,
        user_id: str,
        key_id: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> bool:
        """Revoke one key of the user: it is refused from the next request on.

        Returns False for an unknown key, one already revoked or expired, or another
        user's key (which is left untouched).

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._api_keys.revoke_api_key(
            str(user_id), key_id, client=client, session=session
        )

    async def verify_api_key(
        self,
        key: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> ApiKeyPrincipal:
        """Verify *key* and return whom it speaks for, in one indexed query at most.

        A typo or a truncated key is refused by its checksum without a query. The
        user is not loaded (the `api_key_user` dependency does that).

        Raises:
            InvalidTokenError: not a key, a typo, or an unknown key (see `reason`).
            RevokedTokenError: the key was revoked.
            ExpiredTokenError: the key has expired.
            TokenStoreUnavailableError: the database could not be read; nothing passes.
        """
        return await self._key_verifier.verify(key, client=client, session=session)
