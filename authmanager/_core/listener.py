"""Listener: a LISTEN connection (asyncpg) per event loop, for other hosts' revocations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["Listener"]

logger = logging.getLogger("authmanager.statecache")
#: How often a quiet LISTEN connection is pinged, so a silent drop is noticed.
PING_SECONDS = 2.0


class Listener:
    """LISTEN on *channel*; call *on_notify* per payload and *on_lost* when missing any.

    `ready()` is true only while the connection is up and listening on the running
    loop; the first call on a loop starts it. While it is not ready, the state cache
    is bypassed, so a lost connection never leaves a stale state in use.
    """

    def __init__(
        self,
        dsn: str,
        channel: str,
        on_notify: Callable[[str], None],
        on_lost: Callable[[], None],
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_notify = on_notify
        self._on_lost = on_lost
        self._listening = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def ready(self) -> bool:
        """Whether notifications are being received on the running loop (starts it if not)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if loop is not self._loop:
            if self._loop is None or self._loop.is_closed():
                self._start(loop)
            return False
        return self._listening

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._listening = False
        self._on_lost()
        self._task = loop.create_task(self._run(), name="authmanager-state-cache-listener")

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_notify(payload)

    async def _run(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        delay = 0.1
        while True:
            lost = asyncio.Event()
            conn: Any = None
            try:
                conn = await asyncio.wait_for(
                    asyncpg.connect(
                        self._dsn, server_settings={"application_name": "authmanager-listener"}
                    ),
                    timeout=10,
                )
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(self._channel, self._notified)
                self._on_lost()  # whatever was missed while not listening
                self._listening = True
                delay = 0.1
                while not lost.is_set():  # a ping notices a silent drop
                    try:
                        await asyncio.wait_for(lost.wait(), PING_SECONDS)
                    except TimeoutError:
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), PING_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("state cache: listener lost (%s)", type(exc).__name__)
            finally:
                self._listening = False
                self._on_lost()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def aclose(self) -> None:
        """Stop listening; `ready()` stays false until it is started again."""
        task, self._task, self._loop = self._task, None, None
        self._listening = False
        if task is None or task.done():
            return
        task.cancel()
        if task.get_loop() is not asyncio.get_running_loop():
            return  # started on another loop (now gone): it cannot be awaited from here
        # On Python 3.11, asyncio.wait_for swallows a cancellation that arrives just as
        # the operation it awaits completes (gh-86296): the loop in `_run` would go on
        # pinging, and shutdown would wait for ever. Cancel until the task has ended.
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            task.cancel()
        if not task.cancelled():
            with contextlib.suppress(Exception):
                task.result()  # retrieved: no "exception was never retrieved" warning
