"""FactorStore: the SQL of the factors table (TOTP and passkeys).

Every method runs in the caller's session; the service chooses the transaction.
Acceptances are single conditional UPDATEs, so two concurrent uses of one TOTP code or
one passkey assertion cannot both pass, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from authmanager._core.rows import opt
from authmanager.mfa.tables import factors
from authmanager.mfa.types import FactorInfo, FactorKind

__all__ = ["FactorRow", "FactorStore"]

_COLUMNS = (
    factors.c.id,
    factors.c.user_id,
    factors.c.kind,
    factors.c.label,
    factors.c.created_at,
    factors.c.confirmed_at,
    factors.c.last_used_at,
    factors.c.secret,
    factors.c.last_step,
    factors.c.credential_id,
    factors.c.public_key,
    factors.c.sign_count,
    factors.c.user_handle,
    factors.c.transports,
    factors.c.backup_eligible,
)


@dataclass(frozen=True, slots=True, repr=False)
class FactorRow:
    """One stored factor (its secret still encrypted)."""

    id: str
    user_id: str
    kind: FactorKind
    label: str | None
    created_at: datetime
    confirmed_at: datetime | None
    last_used_at: datetime | None
    secret: str | None
    last_step: int | None
    credential_id: str | None
    public_key: str | None
    sign_count: int | None
    user_handle: str | None
    transports: list[str] | None
    backup_eligible: bool | None

    @classmethod
    def of(cls, row: Any) -> FactorRow:
        """Build from a result row of `_COLUMNS`."""
        values = {column.name: getattr(row, column.name) for column in _COLUMNS}
        for name in ("created_at", "confirmed_at", "last_used_at"):
            values[name] = opt(values[name])
        return cls(**values)

    def info(self) -> FactorInfo:
        """The public view of this factor."""
        created = self.created_at
        return FactorInfo(self.id, self.kind, self.label, created, self.last_used_at)

    def __repr__(self) -> str:
        return f"FactorRow(id={self.id!r}, kind={self.kind!r})"


def _confirmed(user_id: str) -> Any:
    return and_(factors.c.user_id == user_id, factors.c.confirmed_at.is_not(None))


class FactorStore:
    """Reads and conditional writes of the factors table."""

    async def has_active(
        self, db: AsyncSession | AsyncConnection, user_id: str, kind: FactorKind | None = None
    ) -> bool:
        """Return whether the user has a confirmed factor (of *kind*): one indexed probe."""
        query = select(factors.c.id).where(_confirmed(user_id))
        if kind is not None:
            query = query.where(factors.c.kind == kind)
        found = await db.execute(query.limit(1))
        return found.first() is not None

    async def confirmed(
        self, db: AsyncSession, user_id: str, kind: FactorKind | None = None
    ) -> list[FactorRow]:
        """Return the user's confirmed factors (of *kind*), oldest first."""
        query = select(*_COLUMNS).where(_confirmed(user_id))
        if kind is not None:
            query = query.where(factors.c.kind == kind)
        rows = await db.execute(query.order_by(factors.c.created_at, factors.c.id))
        return [FactorRow.of(row) for row in rows]

    async def lock_user(self, db: AsyncSession, user_id: str) -> list[FactorRow]:
        """Return every factor of the user, pending ones too, locking the rows.

        Serialises a user's factor changes on PostgreSQL (`FOR UPDATE`); SQLite's write
        transactions are serialised already.
        """
        query = select(*_COLUMNS).where(factors.c.user_id == user_id).with_for_update()
        return [FactorRow.of(row) for row in await db.execute(query.order_by(factors.c.id))]

    async def get(self, db: AsyncSession, user_id: str, factor_id: str) -> FactorRow | None:
        """Return the user's factor with this id, pending or not."""
        query = select(*_COLUMNS).where(factors.c.id == factor_id, factors.c.user_id == user_id)
        row = (await db.execute(query)).first()
        return None if row is None else FactorRow.of(row)

    async def by_credential(self, db: AsyncSession, credential_key: str) -> FactorRow | None:
        """Return the confirmed passkey whose credential id hashes to *credential_key*."""
        query = select(*_COLUMNS).where(
            factors.c.credential_key == credential_key,
            factors.c.kind == "passkey",
            factors.c.confirmed_at.is_not(None),
        )
        row = (await db.execute(query)).first()
        return None if row is None else FactorRow.of(row)

    async def add_totp(
        self, db: AsyncSession, user_id: str, *, secret: str, label: str | None, now: datetime
    ) -> str:
        """Store a pending TOTP factor with its encrypted *secret*; return its id."""
        factor_id = str(uuid.uuid4())
        values = {"id": factor_id, "user_id": user_id, "kind": "totp", "label": label}
        await db.execute(insert(factors).values(**values, created_at=now, secret=secret))
        return factor_id

    async def add_passkey(
        self,
        db: AsyncSession,
        user_id: str,
        *,
        label: str | None,
        now: datetime,
        credential_key: str,
        credential_id: str,
        public_key: str,
        sign_count: int,
        user_handle: str,
        transports: list[str],
        backup_eligible: bool,
    ) -> FactorRow:
        """Store a confirmed passkey and return it."""
        row = FactorRow(
            id=str(uuid.uuid4()),
            user_id=user_id,
            kind="passkey",
            label=label,
            created_at=now,
            confirmed_at=now,
            last_used_at=None,
            secret=None,
            last_step=None,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            user_handle=user_handle,
            transports=transports,
            backup_eligible=backup_eligible,
        )
        values = {c.name: getattr(row, c.name) for c in _COLUMNS}
        await db.execute(insert(factors).values(**values, credential_key=credential_key))
        return row

    async def delete_pending_totp(self, db: AsyncSession, user_id: str) -> None:
        """Forget the user's unconfirmed TOTP enrollments."""
        await db.execute(
            delete(factors).where(
                factors.c.user_id == user_id,
                factors.c.kind == "totp",
                factors.c.confirmed_at.is_(None),
            )
        )

    async def confirm_totp(
        self, db: AsyncSession, factor_id: str, *, step: int, now: datetime
    ) -> bool:
        """Activate a pending TOTP factor at *step*; False when it is no longer pending."""
        result = await db.execute(
            update(factors)
            .where(factors.c.id == factor_id, factors.c.confirmed_at.is_(None))
            .values(confirmed_at=now, last_step=step)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def accept_step(
        self, db: AsyncSession, factor_id: str, *, step: int, now: datetime
    ) -> bool:
        """Record *step* as used, only if no code of this step or a later one was accepted.

        The single conditional UPDATE is the replay check (RFC 6238 §5.2).
        """
        result = await db.execute(
            update(factors)
            .where(
                factors.c.id == factor_id,
                factors.c.confirmed_at.is_not(None),
                or_(factors.c.last_step.is_(None), factors.c.last_step < step),
            )
            .values(last_step=step, last_used_at=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def accept_sign_count(
        self, db: AsyncSession, factor_id: str, *, count: int, now: datetime
    ) -> bool:
        """Record a passkey use with signature counter *count*, only if it moved forward.

        An authenticator that keeps no counter reports 0 every time, which is accepted
        while the stored counter is 0 too (WebAuthn §6.1.1).
        """
        forward = factors.c.sign_count < count if count > 0 else factors.c.sign_count == 0
        result = await db.execute(
            update(factors)
            .where(factors.c.id == factor_id, factors.c.confirmed_at.is_not(None), forward)
            .values(sign_count=count, last_used_at=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def remove(self, db: AsyncSession, user_id: str, factor_id: str) -> bool:
        """Delete the user's factor; False when the user has no factor with this id."""
        result = await db.execute(
            delete(factors).where(factors.c.id == factor_id, factors.c.user_id == user_id)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def rename(
        self, db: AsyncSession, user_id: str, factor_id: str, label: str | None
    ) -> bool:
        """Set the label of the user's confirmed factor; False when there is none."""
        result = await db.execute(
            update(factors)
            .where(factors.c.id == factor_id, _confirmed(user_id))
            .values(label=label)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def totp_secrets(self, db: AsyncSession) -> list[tuple[str, str]]:
        """Return (id, encrypted secret) of every TOTP factor, for key rotation."""
        query = select(factors.c.id, factors.c.secret).where(
            factors.c.kind == "totp", factors.c.secret.is_not(None)
        )
        return [(row.id, row.secret) for row in await db.execute(query)]

    async def replace_secret(self, db: AsyncSession, factor_id: str, old: str, new: str) -> bool:
        """Swap the encrypted secret, only if it is still *old*."""
        result = await db.execute(
            update(factors)
            .where(factors.c.id == factor_id, factors.c.secret == old)
            .values(secret=new)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]
