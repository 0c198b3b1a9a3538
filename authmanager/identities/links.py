"""IdentityStore: the links (issuer, subject) → user id, in `authmanager_identities`.

Every method runs in the caller's transaction (an `AsyncSession` from `Database`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import as_utc, utcnow
from authmanager.identities.tables import identities
from authmanager.identities.types import ExternalIdentity, IdentityInfo

__all__ = ["IdentityStore", "Link"]

_MAX_EMAIL = 320


@dataclass(frozen=True, slots=True)
class Link:
    """A link as stored: the user it belongs to and its public view."""

    user_id: str
    info: IdentityInfo


def _link(row: Any) -> Link:
    return Link(
        user_id=row.user_id,
        info=IdentityInfo(
            id=row.id,
            provider=row.provider,
            issuer=row.issuer,
            subject=row.subject,
            email=row.email,
            created_at=as_utc(row.created_at),
            last_used_at=as_utc(row.last_used_at),
        ),
    )


def _email(identity: ExternalIdentity) -> str | None:
    email = identity.email
    return email if email is not None and len(email) <= _MAX_EMAIL else None


class IdentityStore:
    """Queries on the identity links."""

    async def find(self, db: AsyncSession, issuer: str, subject: str) -> Link | None:
        """Return the link of (*issuer*, *subject*), or None."""
        row = (
            await db.execute(
                select(identities).where(
                    identities.c.issuer == issuer, identities.c.subject == subject
                )
            )
        ).first()
        return None if row is None else _link(row)

    async def add(
        self, db: AsyncSession, *, user_id: str, identity: ExternalIdentity
    ) -> tuple[Link, bool]:
        """Link *identity* to *user_id* unless it is linked already.

        Returns the link as it now stands (maybe another user's, when a concurrent
        sign-in linked it first) and whether this call made it.
        """
        now = utcnow()
        values = {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "provider": identity.provider,
            "issuer": identity.issuer,
            "subject": identity.subject,
            "email": _email(identity),
            "created_at": now,
            "last_used_at": now,
        }
        created = await _insert_once(db, values)
        link = await self.find(db, identity.issuer, identity.subject)
        assert link is not None  # noqa: S101 - inserted, or present by the conflict
        return link, created

    async def touch(self, db: AsyncSession, link: Link, identity: ExternalIdentity) -> Link:
        """Record a sign-in with *link* (its time and the email the provider gave)."""
        now = utcnow()
        email = _email(identity)
        await db.execute(
            update(identities)
            .where(identities.c.id == link.info.id)
            .values(last_used_at=now, email=email)
        )
        return Link(link.user_id, replace(link.info, email=email, last_used_at=now))

    async def of_user(self, db: AsyncSession, user_id: str, *, lock: bool = False) -> list[Link]:
        """Return the user's links, oldest first; *lock* holds them until the commit.

        Locking (FOR UPDATE on PostgreSQL; SQLite's write transactions are serial)
        keeps two concurrent unlinks from both seeing "another identity remains".
        """
        query = (
            select(identities)
            .where(identities.c.user_id == user_id)
            .order_by(identities.c.created_at, identities.c.id)
        )
        if lock:
            query = query.with_for_update()
        return [_link(row) for row in (await db.execute(query)).all()]

    async def remove(self, db: AsyncSession, link_id: str) -> None:
        """Delete one link."""
        await db.execute(delete(identities).where(identities.c.id == link_id))


async def _insert_once(db: AsyncSession, values: dict[str, Any]) -> bool:
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(identities).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(identities).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - the two tested databases take the branches above
        try:
            async with db.begin_nested():
                await db.execute(insert(identities).values(**values))
        except IntegrityError:
            return False
        return True
    result = await db.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)
