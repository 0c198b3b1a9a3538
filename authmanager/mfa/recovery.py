"""Recovery codes: ten single-use codes, shown once, stored as SHA-256 digests.

Each code is 16 characters of Crockford's base32 (80 random bits from `secrets`), so
guessing one is out of reach and a fast hash is safe: a code is found by its digest.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager.mfa.tables import recovery_codes

__all__ = ["COUNT", "RecoveryCodes", "code_digest", "new_codes"]

COUNT = 10
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford: no i, l, o, u
_LENGTH = 16  # 16 x 5 bits = 80 bits
_ALIASES = str.maketrans({"o": "0", "i": "1", "l": "1"})


def new_codes() -> list[str]:
    """Return ten new codes, formatted `xxxx-xxxx-xxxx-xxxx`."""
    codes = []
    for _ in range(COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _LENGTH, 4)))
    return codes


def _normalise(code: str) -> str | None:
    """Return the 16 significant characters of *code*, or None when it cannot be one."""
    text = code.strip().lower().replace("-", "").replace(" ", "").translate(_ALIASES)
    if len(text) != _LENGTH or any(c not in _ALPHABET for c in text):
        return None
    return text


def code_digest(code: str) -> str | None:
    """Return the stored digest of *code*, or None when it is not shaped like a code."""
    text = _normalise(code)
    return None if text is None else hashlib.sha256(text.encode("ascii")).hexdigest()


class RecoveryCodes:
    """The SQL of recovery codes; every method runs in the caller's transaction."""

    async def replace(self, db: AsyncSession, user_id: str, now: datetime) -> list[str]:
        """Delete the user's codes and store ten new ones; return them (shown once)."""
        await self.delete_all(db, user_id)
        codes = new_codes()
        rows = [
            {"user_id": user_id, "code_hash": code_digest(code), "created_at": now}
            for code in codes
        ]
        await db.execute(insert(recovery_codes), rows)
        return codes

    async def consume(self, db: AsyncSession, user_id: str, code: str, now: datetime) -> bool:
        """Mark the user's unused *code* used; return whether this call did.

        One conditional UPDATE: of concurrent uses of one code, exactly one wins.
        """
        digest = code_digest(code)
        if digest is None:
            return False
        result = await db.execute(
            update(recovery_codes)
            .where(
                recovery_codes.c.user_id == user_id,
                recovery_codes.c.code_hash == digest,
                recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def remaining(self, db: AsyncSession, user_id: str) -> int:
        """Return how many unused codes the user has."""
        count = await db.scalar(
            select(func.count())
            .select_from(recovery_codes)
            .where(recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None))
        )
        return int(count or 0)

    async def delete_all(self, db: AsyncSession, user_id: str) -> None:
        """Delete every code of the user, used or not."""
        await db.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
