"""FlowStore: started code flows (single use) and exchanged native nonces (single use)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import as_utc, utcnow
from authmanager._core.database import Database
from authmanager.exceptions import InvalidTokenError, Reason
from authmanager.identities.tables import identity_replays, oidc_flows
from authmanager.identities.types import Purpose

__all__ = ["FlowRecord", "FlowStore"]


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """What `begin` recorded about a flow, read back once by its callback."""

    provider: str
    purpose: Purpose
    link_user_id: str | None
    next_path: str


def _bad_state() -> InvalidTokenError:
    # One message for unknown, used, expired and other-browser states: the caller
    # learns nothing about which flows exist.
    return InvalidTokenError(
        "The sign-in state is invalid, used or expired; start again.",
        reason=Reason.INVALID_STATE,
    )


class FlowStore:
    """The `authmanager_oidc_flows` and `authmanager_identity_replays` tables.

    Args:
        database: The library's transactions.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        *,
        state_hash: str,
        browser_hash: str,
        provider: str,
        purpose: Purpose,
        link_user_id: str | None,
        next_path: str,
        ttl: timedelta,
    ) -> None:
        """Record a started flow (and forget the expired ones).

        Raises:
            TokenStoreUnavailableError: the database failed.
        """
        now = utcnow()
        async with self._db.transaction() as db:
            await db.execute(delete(oidc_flows).where(oidc_flows.c.expires_at < now))
            await db.execute(
                insert(oidc_flows).values(
                    state_hash=state_hash,
                    browser_hash=browser_hash,
                    provider=provider,
                    purpose=purpose,
                    link_user_id=link_user_id,
                    next_path=next_path,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )

    async def consume(self, *, state_hash: str, browser_hash: str, provider: str) -> FlowRecord:
        """Return and delete the flow of *state_hash*, started by this browser for *provider*.

        Of concurrent callbacks with one state exactly one gets the record: the row
        is deleted under the condition that it is still there.

        Raises:
            InvalidTokenError: `INVALID_STATE`, no such live flow of this browser.
            TokenStoreUnavailableError: the database failed.
        """
        async with self._db.transaction() as db:
            row = (
                await db.execute(select(oidc_flows).where(oidc_flows.c.state_hash == state_hash))
            ).first()
            if row is None:
                raise _bad_state()
            if not hmac.compare_digest(row.browser_hash, browser_hash) or row.provider != provider:
                raise _bad_state()  # kept: the browser that owns it may still finish it
            if as_utc(row.expires_at) <= utcnow():
                raise _bad_state()  # left for the purge
            deleted = await db.execute(
                delete(oidc_flows).where(oidc_flows.c.state_hash == state_hash)
            )
            if getattr(deleted, "rowcount", 0) != 1:
                raise _bad_state()  # a concurrent callback consumed it first
            purpose: Purpose = "link" if row.purpose == "link" else "login"
            return FlowRecord(
                provider=row.provider,
                purpose=purpose,
                link_user_id=row.link_user_id,
                next_path=row.next_path,
            )

    async def use_once(self, db: AsyncSession, key: str, expires_at: datetime) -> bool:
        """Record *key* in *db*'s transaction; False when it was recorded before."""
        await db.execute(delete(identity_replays).where(identity_replays.c.expires_at < utcnow()))
        values = {"key": key, "expires_at": expires_at}
        dialect = db.get_bind().dialect.name
        if dialect == "postgresql":
            stmt: Any = pg_insert(identity_replays).values(**values).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite_insert(identity_replays).values(**values).on_conflict_do_nothing()
        else:  # pragma: no cover - the two tested databases take the branches above
            try:
                async with db.begin_nested():
                    await db.execute(insert(identity_replays).values(**values))
            except IntegrityError:
                return False
            return True
        result = await db.execute(stmt)
        return bool(getattr(result, "rowcount", 0) == 1)

    async def purge_expired(self, session: AsyncSession | None = None) -> int:
        """Delete expired flows and replay records (in *session*'s transaction, if given).

        Returns how many rows went.

        Raises:
            TokenStoreUnavailableError: the database failed.
        """
        now = utcnow()
        async with self._db.transaction(session) as db:
            flows = await db.execute(delete(oidc_flows).where(oidc_flows.c.expires_at < now))
            replays = await db.execute(
                delete(identity_replays).where(identity_replays.c.expires_at < now)
            )
        return int(getattr(flows, "rowcount", 0) or 0) + int(getattr(replays, "rowcount", 0) or 0)
