"""ApiKeyService: create, list and revoke API keys (verification is `ApiKeyVerifier`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.config.apikeys import ApiKeySettings
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.types import ClientInfo
from authmanager.apikeys.keyformat import KeyFormat
from authmanager.apikeys.rules import (
    TooManyApiKeysError,
    check_name,
    check_scopes,
    check_user_id,
    expiry,
)
from authmanager.apikeys.store import ApiKeyStore
from authmanager.apikeys.types import ApiKeyInfo, NewApiKey
from authmanager.hooks import EventName

__all__ = ["ApiKeyService", "Cause"]

#: The account events whose effect on API keys a setting decides.
Cause = Literal["logout_all", "password_change", "password_reset"]


class ApiKeyService:
    """API keys: long-lived credentials a user creates for scripts and integrations.

    A key is returned once, at creation, and stored only as its SHA-256; every write
    runs in one transaction (the caller's, when `session=` is given) and changes
    nothing when it raises.

    Args:
        database: Transactions and reads on the application's database.
        store: The API key SQL.
        key_format: Makes keys of the configured prefix.
        events: Where `api_key.created` and `api_key.revoked` go (never the key).
        settings: The cap per user, the longest lifetime and the revocation policies.
    """

    def __init__(
        self,
        *,
        database: Database,
        store: ApiKeyStore,
        key_format: KeyFormat,
        events: HookDispatcher,
        settings: ApiKeySettings,
    ) -> None:
        self._database = database
        self._store = store
        self._format = key_format
        self._events = events
        self._settings = settings
        self._policy: dict[Cause, str] = {
            "logout_all": settings.api_keys_on_logout_all,
            "password_change": settings.api_keys_on_password_change,
            "password_reset": settings.api_keys_on_password_reset,
        }

    # --- management ------------------------------------------------------------------
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
        """Create a key for the user and return it, with its secret, this once.

        Raises:
            ValueError: a bad name, scope or lifetime (nothing is stored).
            TooManyApiKeysError: the user already holds `api_keys_max_per_user` live keys.
            TokenStoreUnavailableError: the database could not be reached.
        """
        check_user_id(user_id)
        name = check_name(name)
        granted = check_scopes(scopes)
        now = utcnow()
        expires_at = expiry(now, expires_in, self._settings.api_key_max_lifetime_days)
        key = self._format.generate()
        new = NewApiKey(
            id=str(uuid.uuid4()),
            key=key,
            name=name,
            prefix=self._format.visible(key),
            scopes=granted,
            created_at=now,
            expires_at=expires_at,
        )
        limit = self._settings.api_keys_max_per_user
        async with self._database.transaction(session) as db:
            # Insert, then count: the INSERT takes SQLite's write lock whatever the
            # transaction mode, and PostgreSQL creations of one user queue on a lock,
            # so two concurrent creations never both pass the cap.
            await self._store.lock_user(db, user_id)
            await self._store.insert(
                db,
                id=new.id,
                user_id=user_id,
                key_hash=self._format.digest(key),
                prefix=new.prefix,
                name=name,
                scopes=list(granted),
                created_at=now,
                expires_at=expires_at,
            )
            if await self._store.count_live(db, user_id, now=now) > limit:
                # Undo here too: a caller's transaction may go on and commit.
                await self._store.delete(db, new.id)
                raise TooManyApiKeysError(limit)
        self._emit(EventName.API_KEY_CREATED, user_id, new.id, client, scopes=" ".join(granted))
        return new

    async def list_api_keys(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[ApiKeyInfo]:
        """Return the user's working keys (neither revoked nor expired), newest first.

        Raises:
            TokenStoreUnavailableError: the database could not be reached.
        """
        async with self._database.reading(session) as db:
            return await self._store.list_live(db, user_id, now=utcnow())

    async def revoke_api_key(
        self,
        user_id: str,
        key_id: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> bool:
        """Revoke one key of that user; it is refused from the next request on.

        Returns:
            True when a working key of that user was revoked; False for an unknown key,
            one already revoked or expired, and any other user's key (left untouched).

        Raises:
            TokenStoreUnavailableError: the database could not be reached.
        """
        async with self._database.transaction(session) as db:
            done = await self._store.revoke(db, user_id, key_id, now=utcnow(), reason="revoked")
        if done:
            self._emit(EventName.API_KEY_REVOKED, user_id, key_id, client, reason="revoked")
        return done

    async def revoke_user_keys(
        self, user_id: str, *, reason: str = "revoked", session: AsyncSession | None = None
    ) -> int:
        """Revoke every working key of the user (deactivation, or a policy below).

        Args:
            user_id: The user.
            reason: A short stable code, stored with each key and put in its event
                (for example `deactivated`, `password_reset`).
            session: The caller's session, to revoke inside its transaction.

        Returns:
            How many keys were revoked.

        Raises:
            TokenStoreUnavailableError: the database could not be reached.
        """
        async with self._database.transaction(session) as db:
            ids = await self._store.revoke_user(db, user_id, now=utcnow(), reason=reason[:32])
        for key_id in ids:
            self._emit(EventName.API_KEY_REVOKED, user_id, key_id, None, reason=reason[:32])
        return len(ids)

    async def revoke_user_keys_for(
        self, cause: Cause, user_id: str, *, session: AsyncSession | None = None
    ) -> int:
        """Apply the configured policy of *cause* (`api_keys_on_<cause>`) to the user's keys.

        Returns:
            How many keys were revoked: 0 when the policy is `keep`.

        Raises:
            TokenStoreUnavailableError: the database could not be reached.
        """
        if self._policy[cause] != "revoke":
            return 0
        return await self.revoke_user_keys(user_id, reason=cause, session=session)

    async def purge_expired(self, *, session: AsyncSession | None = None) -> int:
        """Delete the rows of expired and revoked keys; return the count.

        Raises:
            TokenStoreUnavailableError: the database could not be reached.
        """
        async with self._database.transaction(session) as db:
            return await self._store.purge(db, now=utcnow())

    # --- events ----------------------------------------------------------------------
    def _emit(
        self,
        name: EventName,
        user_id: str,
        key_id: str,
        client: ClientInfo | None,
        *,
        reason: str | None = None,
        **extra: str,
    ) -> None:
        client = client or ClientInfo()
        self._events.emit(
            name,
            user_id=user_id,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            reason=reason,
            extra={"key_id": key_id, **extra},
        )
