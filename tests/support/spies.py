"""Instruments: count password verifications and SQL statements while the real thing runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import AuthManager


class HashSpy:
    """Counts password verifications; the real hasher still does the work."""

    def __init__(self, manager: AuthManager[Any]) -> None:
        self.calls = 0
        # No public seam counts the hasher's work (the hasher is built from the settings),
        # and "nothing was hashed" is what the rate-limit tests must prove.
        real = manager._passwords.verify_async

        async def counting(password: str, hashed: str | None) -> bool:
            self.calls += 1
            return await real(password, hashed)

        manager._passwords.verify_async = counting  # type: ignore[method-assign]


class Statements:
    """The SQL statements an engine sent while counting."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __len__(self) -> int:
        return len(self.sent)


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Statements]:
    """Count every statement *engine* sends inside the block."""
    seen = Statements()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.sent.append(statement.split(None, 1)[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)
