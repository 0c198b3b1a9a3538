"""Per-user write locks: serialise one user's read-check-write transactions across workers."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["lock_user"]

_ADVISORY = text("SELECT pg_advisory_xact_lock(:lock)")


async def lock_user(db: AsyncSession, space: str, user_id: str) -> None:
    """Hold a lock on (*space*, *user_id*) until *db*'s transaction ends.

    On PostgreSQL a transaction-scoped advisory lock: a second transaction asking for
    the same lock waits for the first to commit, and then (READ COMMITTED) sees its
    rows. On SQLite nothing is needed: a writing transaction holds the database's one
    write lock (the library's own transactions begin IMMEDIATE).

    Args:
        db: A session inside a transaction.
        space: What the lock guards (`"sessions"`, ...); spaces never share a lock.
        user_id: The user.
    """
    conn = await db.connection()
    if conn.dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"authmanager.{space}:{user_id}".encode()).digest()
    await db.execute(_ADVISORY, {"lock": int.from_bytes(digest[:8], "big", signed=True)})
