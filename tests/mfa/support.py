"""Helpers of the second-factor tests: keys, a frozen clock, codes, and DB read-backs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pyotp
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager._core.clock import utcnow
from authmanager.hooks import AuthEvent

#: Fixed Fernet keys for the tests (32 bytes each, url-safe base64).
KEY_OLD = base64.urlsafe_b64encode(b"o" * 32).decode()
KEY_NEW = base64.urlsafe_b64encode(b"n" * 32).decode()
RP_ID = "example.com"
ORIGIN = "https://example.com"
#: A fixed instant at the start of a TOTP step (a multiple of 30 seconds).
T0 = datetime(2031, 3, 14, 9, 27, 0, tzinfo=UTC)


@contextmanager
def frozen(at: datetime = T0) -> Iterator[FrozenDateTimeFactory]:
    """Freeze wall-clock time at *at*; the event loop keeps its real monotonic clock."""
    with freeze_time(at, real_asyncio=True) as clock:
        yield clock


def code_at(secret: str, at: datetime | None = None) -> str:
    """The TOTP code an authenticator app shows for *secret* at *at* (default: now)."""
    return pyotp.TOTP(secret).at(at or utcnow())


async def rows(factory: async_sessionmaker[AsyncSession], table: Any, **where: Any) -> list[Any]:
    """Return the rows of *table* matching *where* (column=value)."""
    async with factory() as db:
        return list((await db.execute(select(table).filter_by(**where))).all())


def leaked(events: list[AuthEvent], *secrets: str) -> list[str]:
    """The names of events in which any of *secrets* appears, in any field."""
    found = []
    for event in events:
        text = repr(event.as_dict())
        if any(s and s in text for s in secrets):
            found.append(str(event.name))
    return found
