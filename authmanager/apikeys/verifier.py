"""ApiKeyVerifier: the per-request check of an API key."""

from __future__ import annotations

import time
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.types import ClientInfo
from authmanager.apikeys.keyformat import KeyFormat
from authmanager.apikeys.recorder import UsageRecorder
from authmanager.apikeys.store import ApiKeyRow, ApiKeyStore
from authmanager.apikeys.types import ApiKeyPrincipal
from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason, RevokedTokenError
from authmanager.hooks import EventName

__all__ = ["ApiKeyVerifier", "UserSource"]


class UserSource(Protocol):
    """The part of the application's user loader that key verification needs."""

    async def get_user(self, session: AsyncSession, user_id: str) -> Any:
        """Return the user with that id, or None."""


def _user_is_live(user: Any) -> bool:
    # The library's one rule: a user is live unless `is_active` is explicitly False.
    return getattr(user, "is_active", True) is not False


class ApiKeyVerifier:
    """Verify API keys: the format and checksum first, then one indexed query.

    A typo, a truncated key or a JWT is refused without touching the database. A
    good key's use is handed to the *recorder*, which writes `last_used_at` behind the
    request. Every refusal is reported as a `token.rejected` event (with the key's id
    and user when the key was found; never the key).

    Args:
        database: Pooled reads on the application's database.
        store: The API key SQL.
        key_format: Checks and hashes keys of the configured prefix.
        recorder: Takes each accepted use (no I/O on the request path).
        events: Where `token.rejected` goes, and latency observers.
        users: The application's user loader (for `verify_for_user`).
    """

    def __init__(
        self,
        *,
        database: Database,
        store: ApiKeyStore,
        key_format: KeyFormat,
        recorder: UsageRecorder,
        events: HookDispatcher,
        users: UserSource,
    ) -> None:
        self._database = database
        self._store = store
        self._format = key_format
        self._recorder = recorder
        self._events = events
        self._users = users

    def looks_like_key(self, value: str) -> bool:
        """Return whether a credential claims to be an API key (by its prefix; no I/O).

        A transport that takes an access token or a key in one header routes on it.
        """
        return self._format.looks_like(value)

    async def verify(
        self,
        key: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> ApiKeyPrincipal:
        """Verify *key* and return who it speaks for, in one indexed query at most.

        The user is not loaded: `verify_for_user` does that on the same connection.

        Raises:
            InvalidTokenError: not a key (`api_key_malformed`), a typo (`api_key_checksum`)
                or an unknown key (`api_key_unknown`).
            RevokedTokenError: the key was revoked (`api_key_revoked`).
            ExpiredTokenError: the key has expired (`api_key_expired`).
            TokenStoreUnavailableError: the database could not be reached.
        """
        started = time.perf_counter()
        row: ApiKeyRow | None = None
        try:
            self._format.check(key)
            async with self._database.connection(session) as db:
                row = await self._store.find(db, self._format.digest(key))
            principal = _accept(row)
        except InvalidTokenError as exc:
            self._rejected(exc, row, client)
            raise
        self._accepted(principal, started)
        return principal

    async def verify_for_user(
        self, key: str, *, client: ClientInfo | None = None
    ) -> tuple[ApiKeyPrincipal, Any]:
        """Verify *key* and load its user on one pooled connection (the request path).

        Raises:
            InvalidTokenError: as `verify`.
            RevokedTokenError: as `verify`, or the key's user is missing (`user_not_found`)
                or inactive (`user_inactive`).
            ExpiredTokenError: as `verify`.
            TokenStoreUnavailableError: the database could not be reached.
        """
        started = time.perf_counter()
        row: ApiKeyRow | None = None
        try:
            self._format.check(key)
            async with self._database.user_reading() as (conn, db):
                row = await self._store.find(conn, self._format.digest(key))
                principal = _accept(row)
                user = await self._users.get_user(db, principal.user_id)
            if user is None:
                raise RevokedTokenError(
                    "The API key's user no longer exists.", reason=Reason.USER_NOT_FOUND
                )
            if not _user_is_live(user):
                raise RevokedTokenError(
                    "The API key's user is inactive.", reason=Reason.USER_INACTIVE
                )
        except InvalidTokenError as exc:
            self._rejected(exc, row, client)
            raise
        self._accepted(principal, started)
        return principal, user

    def _accepted(self, principal: ApiKeyPrincipal, started: float) -> None:
        self._recorder.note(principal.key_id, utcnow())
        if self._events.observes_latency:
            self._events.observe_verify(time.perf_counter() - started)

    def _rejected(
        self, exc: InvalidTokenError, row: ApiKeyRow | None, client: ClientInfo | None
    ) -> None:
        """Report a refused key as `token.rejected` (its id when found; never the key)."""
        if not self._events.active:
            return
        client = client or ClientInfo()
        extra: dict[str, int | float | str | bool] = {"credential": "api_key"}
        if row is not None:
            extra["key_id"] = row.id
        self._events.emit(
            EventName.TOKEN_REJECTED,
            reason=exc.reason,
            user_id=None if row is None else row.user_id,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            extra=extra,
        )


def _accept(row: ApiKeyRow | None) -> ApiKeyPrincipal:
    """Refuse an unknown, revoked or expired key; describe a good one."""
    if row is None:
        raise InvalidTokenError("The API key is unknown.", reason=Reason.API_KEY_UNKNOWN)
    if row.revoked_at is not None:
        raise RevokedTokenError("The API key has been revoked.", reason=Reason.API_KEY_REVOKED)
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise ExpiredTokenError("The API key has expired.", reason=Reason.API_KEY_EXPIRED)
    return ApiKeyPrincipal(
        user_id=row.user_id,
        key_id=row.id,
        name=row.name,
        scopes=row.scopes,
        expires_at=row.expires_at,
    )
