"""Short-lived, single-use values of second-factor sign-ins: `mfa_token`s and WebAuthn challenges.

Both are random (>= 256 bits, from `secrets`) and stored only as SHA-256 digests; both
are consumed by one conditional statement, so of concurrent uses exactly one wins.
Rows past their expiry are deleted as new ones are issued (and by `purge`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import as_utc
from authmanager._core.rows import opt
from authmanager.mfa.tables import mfa_tokens, webauthn_challenges

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_TOKEN_CHARS",
    "ChallengeRow",
    "ChallengeStore",
    "MfaTokenRow",
    "MfaTokenStore",
    "digest",
]

#: Wrong (or any) answers one `mfa_token` takes before it is refused (the contract's 5).
MAX_ATTEMPTS = 5
#: Longer inputs are refused before hashing: a token is 43 characters.
MAX_TOKEN_CHARS = 128

Purpose = Literal["register", "login", "mfa"]


def digest(value: str | bytes) -> str:
    """Return the SHA-256 hex digest under which a token or challenge is stored."""
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class MfaTokenRow:
    """The state of one `mfa_token`."""

    user_id: str
    amr: list[str]
    created_at: datetime
    expires_at: datetime
    attempts: int
    used_at: datetime | None
    scopes: list[str] | None = None


@dataclass(frozen=True, slots=True)
class ChallengeRow:
    """What a consumed WebAuthn challenge was bound to."""

    user_id: str | None
    user_handle: str | None


class MfaTokenStore:
    """The SQL of `mfa_token`s; every method runs in the caller's transaction."""

    async def issue(
        self,
        db: AsyncSession,
        user_id: str,
        amr: list[str],
        *,
        now: datetime,
        ttl: timedelta,
        scopes: list[str] | None = None,
    ) -> str:
        """Store a new token for *user_id* after the first step *amr*; return the token."""
        await db.execute(delete(mfa_tokens).where(mfa_tokens.c.expires_at <= now))
        token = secrets.token_urlsafe(32)
        await db.execute(
            insert(mfa_tokens).values(
                token_hash=digest(token),
                user_id=user_id,
                amr=list(amr),
                scopes=scopes,
                created_at=now,
                expires_at=now + ttl,
                attempts=0,
            )
        )
        return token

    async def state(self, db: AsyncSession, token_hash: str) -> MfaTokenRow | None:
        """Return the token's row, or None for an unknown token."""
        query = select(
            mfa_tokens.c.user_id,
            mfa_tokens.c.amr,
            mfa_tokens.c.created_at,
            mfa_tokens.c.expires_at,
            mfa_tokens.c.attempts,
            mfa_tokens.c.used_at,
            mfa_tokens.c.scopes,
        ).where(mfa_tokens.c.token_hash == token_hash)
        row = (await db.execute(query)).first()
        if row is None:
            return None
        return MfaTokenRow(
            row.user_id,
            list(row.amr),
            as_utc(row.created_at),
            as_utc(row.expires_at),
            row.attempts,
            opt(row.used_at),
            None if row.scopes is None else list(row.scopes),
        )

    async def reserve_attempt(self, db: AsyncSession, token_hash: str, *, now: datetime) -> bool:
        """Count one attempt before checking it; False when the token takes no more.

        Counting first (one conditional UPDATE) means concurrent guesses cannot exceed
        the limit between a check and its failure being recorded.
        """
        result = await db.execute(
            update(mfa_tokens)
            .where(*self._usable(token_hash, now), mfa_tokens.c.attempts < MAX_ATTEMPTS)
            .values(attempts=mfa_tokens.c.attempts + 1)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def consume(self, db: AsyncSession, token_hash: str, *, now: datetime) -> bool:
        """Mark the token used; False when it was used (or expired) meanwhile."""
        result = await db.execute(
            update(mfa_tokens).where(*self._usable(token_hash, now)).values(used_at=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def purge(self, db: AsyncSession, *, now: datetime) -> int:
        """Delete tokens past expiry; return the count."""
        result = await db.execute(delete(mfa_tokens).where(mfa_tokens.c.expires_at <= now))
        return int(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _usable(token_hash: str, now: datetime) -> tuple[Any, ...]:
        return (
            mfa_tokens.c.token_hash == token_hash,
            mfa_tokens.c.used_at.is_(None),
            mfa_tokens.c.expires_at > now,
        )


class ChallengeStore:
    """The SQL of WebAuthn challenges; every method runs in the caller's transaction."""

    async def issue(
        self,
        db: AsyncSession,
        purpose: Purpose,
        *,
        now: datetime,
        ttl: timedelta,
        user_id: str | None = None,
        mfa_token_hash: str | None = None,
        user_handle: str | None = None,
    ) -> bytes:
        """Store a new challenge; return it (32 random bytes).

        A user's (or an `mfa_token`'s) earlier challenge of the same purpose is
        dropped, so each has at most one outstanding.
        """
        table = webauthn_challenges
        await db.execute(delete(table).where(table.c.expires_at <= now))
        if user_id is not None or mfa_token_hash is not None:
            await db.execute(
                delete(table).where(
                    table.c.purpose == purpose,
                    table.c.user_id == user_id,
                    table.c.mfa_token_hash == mfa_token_hash,
                )
            )
        challenge = secrets.token_bytes(32)
        await db.execute(
            insert(table).values(
                challenge_hash=digest(challenge),
                purpose=purpose,
                user_id=user_id,
                mfa_token_hash=mfa_token_hash,
                user_handle=user_handle,
                expires_at=now + ttl,
            )
        )
        return challenge

    async def consume(
        self,
        db: AsyncSession,
        challenge: bytes,
        purpose: Purpose,
        *,
        now: datetime,
        user_id: str | None = None,
        mfa_token_hash: str | None = None,
    ) -> ChallengeRow | None:
        """Delete the live challenge bound as given; return its row, or None.

        One `DELETE ... RETURNING`: of concurrent uses of one challenge, one gets it.
        """
        table = webauthn_challenges
        conditions = [
            table.c.challenge_hash == digest(challenge),
            table.c.purpose == purpose,
            table.c.expires_at > now,
        ]
        if user_id is not None:
            conditions.append(table.c.user_id == user_id)
        if mfa_token_hash is not None:
            conditions.append(table.c.mfa_token_hash == mfa_token_hash)
        result = await db.execute(
            delete(table).where(*conditions).returning(table.c.user_id, table.c.user_handle)
        )
        row = result.first()
        return None if row is None else ChallengeRow(row.user_id, row.user_handle)

    async def purge(self, db: AsyncSession, *, now: datetime) -> int:
        """Delete challenges past expiry; return the count."""
        table = webauthn_challenges
        result = await db.execute(delete(table).where(table.c.expires_at <= now))
        return int(result.rowcount)  # type: ignore[attr-defined]
