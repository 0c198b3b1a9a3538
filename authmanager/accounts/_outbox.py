"""Outbox: account work and messages done in the background, never on the requester's time."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread

from authmanager._core.events import HookDispatcher
from authmanager.accounts._messages import AccountMessage, Purpose, Sender
from authmanager.hooks import EventName

__all__ = ["Outbox"]

logger = logging.getLogger("authmanager.accounts")


class Outbox:
    """Run the sending side of the account flows as background tasks.

    A flow answers its requester at once and hands the rest (issuing the token,
    calling the sender) to `run`; so the answer, and its timing, never depend on
    whether a message is sent, and a slow or broken sender changes nothing the
    requester sees. The sender is bounded by *timeout*; a failure is logged with its
    type only (never the message, its token or its link) and reported as a
    `message.failed` event.

    Args:
        sender: The application's sender, plain or async (plain ones run in a thread).
        events: Where `message.failed` goes.
        timeout: Seconds a sender may take before it is abandoned.
    """

    def __init__(self, sender: Sender, *, events: HookDispatcher, timeout: float) -> None:
        if not callable(sender):
            raise TypeError(f"sender {sender!r} is not callable; it takes one AccountMessage.")
        call = getattr(sender, "__call__", sender)  # noqa: B004 - classify the bound method
        self._async = inspect.iscoroutinefunction(sender) or inspect.iscoroutinefunction(call)
        self._sender = sender
        self._events = events
        self._timeout = timeout
        self._pending: set[asyncio.Task[None]] = set()
        # Plain senders block a worker thread each; a burst must not take the whole pool.
        self._threads = anyio.CapacityLimiter(4)

    def run(
        self, job: Callable[[], Awaitable[None]], *, purpose: Purpose, user_id: str | None
    ) -> None:
        """Start *job* in the background; its failure is logged and reported, never raised."""
        task = asyncio.get_running_loop().create_task(self._guard(job, purpose, user_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def deliver(self, message: AccountMessage) -> bool:
        """Hand *message* to the sender; return whether it accepted the message in time."""
        try:
            with anyio.fail_after(self._timeout):
                if self._async:
                    await self._sender(message)  # type: ignore[misc]
                else:
                    result = await anyio.to_thread.run_sync(
                        self._sender, message, abandon_on_cancel=True, limiter=self._threads
                    )
                    if inspect.isawaitable(result):  # a plain callable returning a coroutine
                        await result
        except TimeoutError:
            self._failed(message.purpose, message.user_id, "timeout", "TimeoutError")
            return False
        except Exception as exc:
            self._failed(message.purpose, message.user_id, "sender_error", type(exc).__name__)
            return False
        return True

    async def drain(self) -> None:
        """Wait until every background job started so far has finished (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _guard(
        self, job: Callable[[], Awaitable[None]], purpose: Purpose, user_id: str | None
    ) -> None:
        try:
            await job()
        except Exception as exc:
            reason = str(getattr(exc, "reason", "error"))
            self._failed(purpose, user_id, reason, type(exc).__name__)

    def _failed(self, purpose: Purpose, user_id: str | None, reason: str, error: str) -> None:
        # The type only: an exception's text may quote the message, its link or the server.
        logger.warning("account message %s for user %s not sent: %s", purpose, user_id, error)
        self._events.emit(
            EventName.MESSAGE_FAILED,
            user_id=user_id,
            reason=reason,
            extra={"purpose": str(purpose), "error": error},
        )
