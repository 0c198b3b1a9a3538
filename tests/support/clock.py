"""A frozen wall clock that asyncio ignores, at a fixed instant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

#: A fixed instant for frozen-clock tests (aware, UTC).
T0 = datetime(2031, 3, 14, 9, 26, 53, tzinfo=UTC)


@contextmanager
def frozen(at: datetime = T0) -> Iterator[FrozenDateTimeFactory]:
    """Freeze wall-clock time at *at*; the event loop keeps its real monotonic clock."""
    with freeze_time(at, real_asyncio=True) as clock:
        yield clock
