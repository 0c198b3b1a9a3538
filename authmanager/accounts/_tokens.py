"""Single-use action tokens: opaque, hashed at rest, bound to one purpose, consumed once."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import as_utc, utcnow
from authmanager._core.database import Database
from authmanager.accounts.tables import action_tokens
from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason

__all__ = ["ActionData", "ActionToken", "ActionTokens", "IssuedToken"]

#: What a token may carry besides its user and purpose: a few non-secret JSON scalars.
ActionData = Mapping[str, str | int | float | bool | None]

#: 32 random bytes (256 bits) per token, as 43 URL-safe characters.
TOKEN_BYTES = 32
# Anything else is refused before a query: a token is only URL-safe base64.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,128}")
_MAX_PURPOSE = 32
_t = action_tokens


@dataclass(frozen=True, slots=True)
class ActionToken:
    """A consumed (or inspected) action token: whose it is and what it is for.

    Attributes:
        user_id: The user the token was issued to.
        purpose: What it may be used for (`verify_email`, `reset_password`, ...).
        data: The non-secret facts bound to it at issue time.
        created_at: When it was issued (timezone-aware).
        expires_at: When it stops working (timezone-aware).
    """

    user_id: str
    purpose: str
    data: ActionData
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token, as the one who issued it sees it; its repr hides the token."""

    token: str = field(repr=False)
    expires_at: datetime


def _digest(token: str) -> str:
    """The stored form of *token*; refuse anything not shaped like one of ours."""
    if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
        raise InvalidTokenError(reason=Reason.MALFORMED)
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _action(row: Any) -> ActionToken:
    return ActionToken(
        user_id=row.user_id,
        purpose=row.purpose,
        data=dict(row.data or {}),
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
    )


def _check_data(data: ActionData | None) -> dict[str, str | int | float | bool | None]:
    values = dict(data or {})
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool | None):
            raise TypeError("Action token data maps strings to JSON scalars only.")
    return values


class ActionTokens:
    """Issue and consume single-use tokens bound to a user and a purpose.

    A token is 256 random bits from `secrets`; only its SHA-256 digest is stored, so a
    copy of the table gives nothing that works. Consuming is one conditional `UPDATE
    ... RETURNING`, so of concurrent consumers of one token exactly one wins.

    Args:
        database: Where the tokens live (their table is on `authmanager.metadata`).
    """

    def __init__(self, *, database: Database) -> None:
        self._db = database

    async def issue(
        self,
        user_id: str,
        purpose: str,
        *,
        expires_in: timedelta,
        data: ActionData | None = None,
        session: AsyncSession | None = None,
    ) -> IssuedToken:
        """Issue a token; the user's earlier tokens of the same purpose stop working.

        Raises:
            ValueError: *expires_in* is not positive, or *purpose* is empty or too long.
            TypeError: *data* holds something other than JSON scalars.
            TokenStoreUnavailableError: nothing was issued.
        """
        if expires_in <= timedelta(0):
            raise ValueError("expires_in must be positive.")
        if not purpose or len(purpose) > _MAX_PURPOSE:
            raise ValueError(f"A purpose is 1 to {_MAX_PURPOSE} characters long.")
        values = _check_data(data)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = utcnow()
        async with self._db.transaction(session) as db:
            await db.execute(delete(_t).where(_t.c.user_id == user_id, _t.c.purpose == purpose))
            await db.execute(
                insert(_t).values(
                    token_hash=_digest(token),
                    user_id=user_id,
                    purpose=purpose,
                    data=values or None,
                    created_at=now,
                    expires_at=now + expires_in,
                )
            )
        return IssuedToken(token=token, expires_at=now + expires_in)

    async def create(
        self,
        user_id: str,
        purpose: str,
        *,
        expires_in: timedelta,
        data: ActionData | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """Return a new opaque token (see `issue`)."""
        issued = await self.issue(
            user_id, purpose, expires_in=expires_in, data=data, session=session
        )
        return issued.token

    async def consume(
        self, token: str, purpose: str, *, session: AsyncSession | None = None
    ) -> ActionToken:
        """Use *token* up: it works this once, for *purpose* only.

        Raises:
            InvalidTokenError: unknown, malformed, already used, or for another purpose
                (`reason` says which).
            ExpiredTokenError: past its expiry.
            TokenStoreUnavailableError: nothing was changed.
        """
        digest = _digest(token)
        now = utcnow()
        async with self._db.transaction(session) as db:
            row = (
                await db.execute(
                    update(_t)
                    .where(
                        _t.c.token_hash == digest,
                        _t.c.purpose == purpose,
                        _t.c.used_at.is_(None),
                        _t.c.expires_at > now,
                    )
                    .values(used_at=now)
                    .returning(
                        _t.c.user_id, _t.c.purpose, _t.c.data, _t.c.created_at, _t.c.expires_at
                    )
                )
            ).first()
            if row is None:
                raise await self._refusal(db, digest, purpose, now)
        return _action(row)

    async def peek(
        self, token: str, purpose: str, *, session: AsyncSession | None = None
    ) -> ActionToken:
        """Return what `consume` would, changing nothing (to refuse early, before costly work).

        Raises:
            InvalidTokenError: as `consume`.
            ExpiredTokenError: as `consume`.
            TokenStoreUnavailableError: the store could not be read.
        """
        digest = _digest(token)
        now = utcnow()
        async with self._db.reading(session) as db:
            row = (
                await db.execute(
                    select(
                        _t.c.user_id, _t.c.purpose, _t.c.data, _t.c.created_at, _t.c.expires_at
                    ).where(
                        _t.c.token_hash == digest,
                        _t.c.purpose == purpose,
                        _t.c.used_at.is_(None),
                        _t.c.expires_at > now,
                    )
                )
            ).first()
            if row is None:
                raise await self._refusal(db, digest, purpose, now)
        return _action(row)

    async def revoke_user(
        self, user_id: str, purposes: Iterable[str], *, session: AsyncSession | None = None
    ) -> int:
        """End every token of *user_id* for one of *purposes*; return how many rows went.

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        async with self._db.transaction(session) as db:
            result = await db.execute(
                delete(_t).where(_t.c.user_id == user_id, _t.c.purpose.in_(list(purposes)))
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def purge(self, *, session: AsyncSession | None = None) -> int:
        """Delete the tokens past expiry (used or not); return the count.

        Raises:
            TokenStoreUnavailableError: nothing was deleted.
        """
        async with self._db.transaction(session) as db:
            result = await db.execute(delete(_t).where(_t.c.expires_at <= utcnow()))
        return int(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    async def _refusal(
        db: AsyncSession, digest: str, purpose: str, now: datetime
    ) -> InvalidTokenError:
        """Say why the token did not pass (a read on the failure path only)."""
        row = (
            await db.execute(
                select(_t.c.purpose, _t.c.used_at, _t.c.expires_at).where(_t.c.token_hash == digest)
            )
        ).first()
        if row is None:
            return InvalidTokenError(reason=Reason.UNKNOWN_TOKEN)
        if row.purpose != purpose:
            return InvalidTokenError(reason=Reason.WRONG_TYPE)
        if row.used_at is not None:
            return InvalidTokenError("The token has already been used.", reason=Reason.TOKEN_USED)
        if as_utc(row.expires_at) <= now:
            return ExpiredTokenError()
        return InvalidTokenError(reason=Reason.UNKNOWN_TOKEN)  # pragma: no cover - a race
