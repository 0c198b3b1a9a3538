"""HookDispatcher: fan events out to hooks, off the request path, each bounded in time."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import anyio.to_thread

from authmanager._core.clock import utcnow
from authmanager.hooks import AuthEvent, EventName, Hook

__all__ = ["HookDispatcher"]

logger = logging.getLogger("authmanager.hooks")


class HookDispatcher:
    """Deliver each event to every hook; a hook never changes or stalls an outcome.

    Each emitted event is handed to a background task, so the request that caused it
    does not wait. Async hooks are awaited with a timeout; plain hooks run in a worker
    thread (they may block) and are abandoned after the same timeout. Failures are
    logged under `authmanager.hooks` and otherwise ignored.
    """

    def __init__(self, hooks: Iterable[Hook], *, timeout: float) -> None:
        hooks = list(hooks)  # iterated twice below; a generator would be spent
        self._async: list[Callable[[AuthEvent], Awaitable[None]]] = []
        self._sync: list[Callable[[AuthEvent], Any]] = []
        for hook in hooks:
            if not callable(hook):
                raise TypeError(f"Hook {hook!r} is not callable; a hook takes one AuthEvent.")
            call = getattr(hook, "__call__", hook)  # noqa: B004 - classify the bound method
            if inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(call):
                self._async.append(hook)  # type: ignore[arg-type]
            else:
                self._sync.append(hook)
        self._observers: list[Any] = [
            h for h in hooks if callable(getattr(h, "observe_verify", None))
        ]
        self._timeout = timeout
        self._pending: set[asyncio.Task[None]] = set()
        self._limiter = anyio.CapacityLimiter(4)

    @property
    def active(self) -> bool:
        """Whether any hook is registered (events are not even built otherwise)."""
        return bool(self._async or self._sync)

    @property
    def observes_latency(self) -> bool:
        """Whether any hook wants verification latencies."""
        return bool(self._observers)

    def observe_verify(self, seconds: float) -> None:
        """Pass one verification latency to the hooks that record it."""
        for hook in self._observers:
            try:
                hook.observe_verify(seconds)
            except Exception:
                logger.exception("hook %r failed to record a latency", hook)

    def emit(self, name: EventName, **fields: Any) -> None:
        """Build an event and deliver it in the background."""
        if not self.active:
            return
        event = AuthEvent(name=name, at=utcnow(), **fields)
        try:
            task = asyncio.get_running_loop().create_task(self._deliver(event))
        except RuntimeError:  # no running loop: a script calling from sync code
            logger.debug("no event loop; event %s not delivered", name)
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait until every event emitted so far has been delivered (or timed out)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _deliver(self, event: AuthEvent) -> None:
        calls = [self._run_async(h, event) for h in self._async]
        calls += [self._run_sync(h, event) for h in self._sync]
        await asyncio.gather(*calls)

    async def _run_async(
        self, hook: Callable[[AuthEvent], Awaitable[None]], event: AuthEvent
    ) -> None:
        try:
            await asyncio.wait_for(hook(event), timeout=self._timeout)
        except TimeoutError:
            self._timed_out(hook, event)
        except Exception:
            logger.exception("hook %r failed on %s", hook, event.name)

    async def _run_sync(self, hook: Callable[[AuthEvent], Any], event: AuthEvent) -> None:
        try:
            with anyio.fail_after(self._timeout):
                result = await anyio.to_thread.run_sync(
                    hook, event, abandon_on_cancel=True, limiter=self._limiter
                )
                if inspect.isawaitable(result):  # a plain callable that returned a coroutine
                    await result
        except TimeoutError:
            self._timed_out(hook, event)
        except Exception:
            logger.exception("hook %r failed on %s", hook, event.name)

    def _timed_out(self, hook: object, event: AuthEvent) -> None:
        logger.error(
            "hook %r took longer than %gs on %s; abandoned", hook, self._timeout, event.name
        )
