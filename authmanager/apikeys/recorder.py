"""UsageRecorder: `last_used_at` written behind, off the request path, bounded in memory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from datetime import datetime, timedelta
from time import monotonic

from authmanager._core.database import Database
from authmanager.apikeys.store import ApiKeyStore
from authmanager.exceptions import TokenStoreUnavailableError

__all__ = ["UsageRecorder"]

logger = logging.getLogger("authmanager.apikeys")


class UsageRecorder:
    """Remember when keys were used and write it in the background.

    `note()` never touches the database: it keeps the use in memory (at most once per
    *interval* per key) and schedules one flush *flush_delay* seconds later, which
    writes every pending use in one transaction. The statement itself skips a key
    written less than *interval* ago, so many processes together still write a key at
    most once per interval. A failed flush is logged and its uses are dropped (the
    next use of those keys is recorded again); at most *max_pending* uses wait at
    once, and further ones are dropped until the next flush.

    Args:
        database: Where the uses are written.
        store: The API key SQL.
        interval: The shortest time between two writes of one key.
        flush_delay: Seconds between the first pending use and its write.
        max_pending: The most uses (and remembered keys) kept in memory.
    """

    def __init__(
        self,
        *,
        database: Database,
        store: ApiKeyStore,
        interval: timedelta = timedelta(minutes=1),
        flush_delay: float = 5.0,
        max_pending: int = 10_000,
    ) -> None:
        self._database = database
        self._store = store
        self._interval = interval
        self._seconds = interval.total_seconds()
        self._delay = flush_delay
        self._max = max_pending
        self._pending: dict[str, datetime] = {}
        # key id -> monotonic time of its last accepted use, least recent first.
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._writing = False
        self.dropped = 0
        """Uses dropped because the pending buffer was full."""

    @property
    def pending(self) -> int:
        """How many uses wait to be written."""
        return len(self._pending)

    def note(self, key_id: str, at: datetime) -> None:
        """Record that *key_id* was accepted at *at* (no I/O; never raises)."""
        now = monotonic()
        last = self._recent.get(key_id)
        if last is not None and now - last < self._seconds:
            return
        if len(self._pending) >= self._max and key_id not in self._pending:
            self.dropped += 1
            return
        self._recent[key_id] = now
        self._recent.move_to_end(key_id)
        while len(self._recent) > self._max:
            self._recent.popitem(last=False)  # forgetting only allows an early write
        self._pending[key_id] = at
        self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a script on no loop: the next flush() writes it
            return
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._task = loop.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._delay)
        self._writing = True
        try:
            await self.flush()
        finally:
            self._writing = False

    async def flush(self) -> int:
        """Write every pending use now; return how many were written (0 on failure)."""
        if not self._pending:
            return 0
        batch = list(self._pending.items())
        self._pending.clear()
        try:
            async with self._database.transaction() as db:
                await self._store.touch(db, batch, interval=self._interval)
        except TokenStoreUnavailableError:
            logger.warning("could not record the last use of %d API keys; dropped", len(batch))
            for key_id, _ in batch:
                self._recent.pop(key_id, None)
            return 0
        return len(batch)

    async def aclose(self) -> None:
        """Cancel the scheduled flush and write what is pending (at shutdown)."""
        task, self._task = self._task, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            if not self._writing:  # never cancel a flush mid-write: its uses would be lost
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()
