"""Every SQL statement of API keys (errors are translated by `Database`, not here)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from authmanager._core.clock import as_utc
from authmanager._core.rows import opt
from authmanager.apikeys.tables import api_keys
from authmanager.apikeys.types import ApiKeyInfo

__all__ = ["ApiKeyRow", "ApiKeyStore"]

_c = api_keys.c
_BY_HASH = select(_c.id, _c.user_id, _c.name, _c.scopes, _c.expires_at, _c.revoked_at).where(
    _c.key_hash == bindparam("key_hash")
)
_TOUCH = (
    update(api_keys)
    .where(
        _c.id == bindparam("b_id"),
        or_(_c.last_used_at.is_(None), _c.last_used_at <= bindparam("b_cutoff")),
    )
    .values(last_used_at=bindparam("b_at"))
)


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    """What verification reads about one key, in one statement."""

    id: str
    user_id: str
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    revoked_at: datetime | None


def _live(now: datetime) -> list[Any]:
    """The conditions of a key that still works at *now*."""
    return [_c.revoked_at.is_(None), or_(_c.expires_at.is_(None), _c.expires_at > now)]


class ApiKeyStore:
    """The SQL of the `authmanager_api_keys` table; each method runs in the caller's *db*."""

    async def insert(self, db: AsyncSession, **values: Any) -> None:
        """Insert one key row."""
        await db.execute(api_keys.insert().values(**values))

    async def delete(self, db: AsyncSession, key_id: str) -> None:
        """Delete one key row."""
        await db.execute(delete(api_keys).where(_c.id == key_id))

    async def lock_user(self, db: AsyncSession, user_id: str) -> None:
        """Serialise key creation per user until the transaction ends.

        On PostgreSQL a transaction-scoped advisory lock, so two concurrent creations
        cannot both pass the per-user cap; on SQLite the first write takes the
        database's only write lock.
        """
        conn = await db.connection()
        if conn.dialect.name != "postgresql":
            return
        digest = hashlib.sha256(f"authmanager.api_keys:{user_id}".encode()).digest()
        lock = int.from_bytes(digest[:8], "big", signed=True)
        await db.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})

    async def count_live(self, db: AsyncSession, user_id: str, *, now: datetime) -> int:
        """Return how many keys of the user still work."""
        query = select(func.count()).select_from(api_keys).where(_c.user_id == user_id, *_live(now))
        return int((await db.execute(query)).scalar_one())

    async def find(self, db: AsyncSession | AsyncConnection, key_hash: str) -> ApiKeyRow | None:
        """Return the key whose hash is *key_hash*, or None (one indexed SELECT)."""
        row = (await db.execute(_BY_HASH, {"key_hash": key_hash})).first()
        if row is None:
            return None
        return ApiKeyRow(
            id=row[0],
            user_id=row[1],
            name=row[2],
            scopes=tuple(row[3]),
            expires_at=opt(row[4]),
            revoked_at=opt(row[5]),
        )

    async def list_live(
        self, db: AsyncSession | AsyncConnection, user_id: str, *, now: datetime
    ) -> list[ApiKeyInfo]:
        """Return the user's working keys, newest first."""
        query = (
            select(
                _c.id, _c.name, _c.prefix, _c.scopes, _c.created_at, _c.expires_at, _c.last_used_at
            )
            .where(_c.user_id == user_id, *_live(now))
            .order_by(_c.created_at.desc(), _c.id)
        )
        return [
            ApiKeyInfo(
                id=row[0],
                name=row[1],
                prefix=row[2],
                scopes=tuple(row[3]),
                created_at=as_utc(row[4]),
                expires_at=opt(row[5]),
                last_used_at=opt(row[6]),
            )
            for row in await db.execute(query)
        ]

    async def revoke(
        self, db: AsyncSession, user_id: str, key_id: str, *, now: datetime, reason: str
    ) -> bool:
        """Revoke one working key of that user; return whether one was revoked."""
        result = await db.execute(
            update(api_keys)
            .where(_c.id == key_id, _c.user_id == user_id, *_live(now))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def revoke_user(
        self, db: AsyncSession, user_id: str, *, now: datetime, reason: str
    ) -> list[str]:
        """Revoke every working key of the user; return their ids."""
        result = await db.execute(
            update(api_keys)
            .where(_c.user_id == user_id, *_live(now))
            .values(revoked_at=now, revoke_reason=reason)
            .returning(_c.id)
        )
        return [row[0] for row in result]

    async def touch(
        self, db: AsyncSession, uses: Sequence[tuple[str, datetime]], *, interval: timedelta
    ) -> None:
        """Record last uses (key id, time), skipping keys written less than *interval* ago.

        The condition is in the statement, so several processes together still write
        a key at most once per *interval*, and an older time never overwrites a newer.
        """
        if uses:
            await db.execute(
                _TOUCH,
                [{"b_id": kid, "b_at": at, "b_cutoff": at - interval} for kid, at in uses],
            )

    async def purge(self, db: AsyncSession, *, now: datetime) -> int:
        """Delete revoked and expired keys; return the count."""
        result = await db.execute(
            delete(api_keys).where(or_(_c.revoked_at.is_not(None), _c.expires_at <= now))
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
