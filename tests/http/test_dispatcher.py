"""Hooks that raise or hang are logged and never break or stall a login."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import pytest

from authmanager import AuthManager
from authmanager.hooks import AuthEvent
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import client_for, login

MakeManager = Callable[..., AuthManager[User]]
TIMEOUT = 0.2


def hook_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "authmanager.hooks"]


class Arrived:
    """An async hook that signals the first event it receives."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def __call__(self, event: AuthEvent) -> None:
        self.event.set()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so a blocking test hook's worker thread always ends."""
    flag = threading.Event()
    yield flag
    flag.set()


async def test_raising_hooks_are_logged_and_login_succeeds(
    make_manager: MakeManager,
    user: User,
    events: CapturingHook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An async and a plain hook that raise: login is 200, other hooks still get every event."""

    async def async_boom(event: AuthEvent) -> None:
        raise RuntimeError("async hook broke")

    def sync_boom(event: AuthEvent) -> None:
        raise ValueError("plain hook broke")

    manager = make_manager(hooks=[async_boom, events, sync_boom])
    async with client_for(make_app(manager)) as client:
        response = await login(client)
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    await manager.drain_events()
    assert events.names() == ["login.succeeded", "token.issued"]
    failures = hook_records(caplog)
    assert len(failures) == 4  # two hooks x two events
    assert {r.levelno for r in failures} == {logging.ERROR}
    assert {type(r.exc_info[1]) for r in failures if r.exc_info} == {RuntimeError, ValueError}
    assert {r.getMessage().rsplit(" ", 1)[-1] for r in failures} == {
        "login.succeeded",
        "token.issued",
    }


async def test_slow_async_hook_does_not_hold_up_login_and_is_abandoned(
    make_manager: MakeManager, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook sleeping 30 s: the login answers while it sleeps; it is cancelled at the bound."""
    finished: list[AuthEvent] = []
    arrived = Arrived()

    async def sleepy(event: AuthEvent) -> None:
        await asyncio.sleep(30)
        finished.append(event)

    manager = make_manager(hooks=[sleepy, arrived], hook_timeout_seconds=TIMEOUT)
    async with client_for(make_app(manager)) as client:
        response = await login(client)
        assert response.status_code == 200
        assert not finished  # the answer came while the hook was still asleep
        await arrived.event.wait()  # a sibling hook got the event meanwhile
        second = await login(client)
        assert second.status_code == 200
    await manager.drain_events()
    assert not finished
    timeouts = hook_records(caplog)
    assert len(timeouts) == 4  # two logins x (login.succeeded, token.issued)
    assert all("took longer than 0.2s" in r.getMessage() for r in timeouts)
    assert all(r.levelno == logging.ERROR for r in timeouts)


async def test_blocking_plain_hook_runs_off_the_loop_and_is_abandoned(
    make_manager: MakeManager,
    user: User,
    events: CapturingHook,
    caplog: pytest.LogCaptureFixture,
    release: threading.Event,
) -> None:
    """A plain hook blocking in time.sleep: login answers meanwhile; it is abandoned and logged."""
    running = threading.Event()
    done = threading.Event()
    threads: set[int] = set()

    def blocking(event: AuthEvent) -> None:
        threads.add(threading.get_ident())
        running.set()
        while not release.is_set():
            time.sleep(0.05)
        done.set()

    manager = make_manager(hooks=[blocking, events], hook_timeout_seconds=TIMEOUT)
    async with client_for(make_app(manager)) as client:
        response = await login(client)
    assert response.status_code == 200
    assert not done.is_set()
    await manager.drain_events()
    assert events.names() == ["login.succeeded", "token.issued"]
    assert running.is_set()
    assert not done.is_set()  # still blocked, yet delivery has finished
    assert threading.get_ident() not in threads  # never on the event loop's thread
    timeouts = hook_records(caplog)
    assert len(timeouts) == 2
    assert all("took longer than 0.2s" in r.getMessage() for r in timeouts)
    release.set()
    assert await anyio.to_thread.run_sync(done.wait, 10)


async def test_hook_objects_and_coroutine_returning_callables_are_awaited(
    make_manager: MakeManager, user: User
) -> None:
    """An object with `async __call__`, and a plain callable returning a coroutine, both work."""
    seen: list[tuple[str, str]] = []

    class Recorder:
        async def __call__(self, event: AuthEvent) -> None:
            seen.append(("object", str(event.name)))

    async def record(event: AuthEvent) -> None:
        seen.append(("lambda", str(event.name)))

    def returns_coroutine(event: AuthEvent) -> Any:
        return record(event)

    manager = make_manager(hooks=(h for h in [Recorder(), returns_coroutine]))
    async with client_for(make_app(manager)) as client:
        assert (await login(client)).status_code == 200
    await manager.drain_events()
    assert sorted(seen) == [
        ("lambda", "login.succeeded"),
        ("lambda", "token.issued"),
        ("object", "login.succeeded"),
        ("object", "token.issued"),
    ]


async def test_no_hooks_means_no_events_are_built(make_manager: MakeManager, user: User) -> None:
    """Without hooks (and the default audit log off), login works and nothing is pending."""
    manager = make_manager(hooks=[], audit_log=False)
    async with client_for(make_app(manager)) as client:
        assert (await login(client)).status_code == 200
    # No public view of the dispatcher's queue, and "nothing built" is the property.
    assert not manager._events.active
    assert not manager._events._pending
