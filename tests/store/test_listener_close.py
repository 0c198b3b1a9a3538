"""Listener.aclose ends the LISTEN task even when a cancellation is swallowed once.

On Python 3.11, `asyncio.wait_for` returns the result instead of raising when the task
is cancelled just as the awaited operation completes (gh-86296): the listener's ping
loop then carried on, and `AuthManager.aclose()` waited for ever (seen in the account
tests' teardown on PostgreSQL).
"""

from __future__ import annotations

import asyncio

from authmanager._core.listener import Listener


def _listener() -> Listener:
    return Listener("postgresql://unused", "channel", lambda _payload: None, lambda: None)


async def test_aclose_ends_a_task_that_swallows_the_first_cancellation() -> None:
    """A task that survives one cancel (as wait_for lets it) is cancelled again, and ends."""
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed == 1:
                    continue  # what 3.11's wait_for does when its operation just finished
                raise

    listener = _listener()
    task = asyncio.get_running_loop().create_task(stubborn())
    await asyncio.sleep(0)
    listener._task, listener._loop = task, asyncio.get_running_loop()
    closing = asyncio.get_running_loop().create_task(listener.aclose())
    done, _ = await asyncio.wait({closing}, timeout=10)
    if not done:  # the old aclose: still waiting; end both so the test can report it
        task.cancel()
        await asyncio.wait({closing}, timeout=1)
    assert closing in done, "aclose() waited for ever on a task that swallowed a cancel"
    assert task.cancelled()
    assert swallowed == 2


def test_aclose_of_a_task_on_another_loop_returns_at_once() -> None:
    """A task of another loop is cancelled, not awaited (it could never finish there)."""
    other = asyncio.new_event_loop()
    try:
        task = other.create_task(asyncio.sleep(3600))
        listener = _listener()
        listener._task, listener._loop = task, other
        asyncio.run(asyncio.wait_for(listener.aclose(), timeout=5))
        other.run_until_complete(asyncio.sleep(0))  # that loop runs the cancellation
        assert task.cancelled()
    finally:
        other.close()
