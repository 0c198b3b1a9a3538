"""Helpers for testing applications that use authmanager (and authmanager itself).

```python
from authmanager.testing import CapturingHook, test_settings

events = CapturingHook()
auth = AuthManager(settings=test_settings(), session_factory=factory,
                   user_loader=users, hooks=[events])
...
await auth.drain_events()
assert events.names() == ["login.succeeded", "token.issued"]
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authmanager._core.settings import AuthSettings
from authmanager.accounts import AccountMessage, Purpose
from authmanager.hooks import AuthEvent, EventName

if TYPE_CHECKING:
    from authmanager._manager import AuthManager

__all__ = [
    "TEST_SECRET",
    "CapturingHook",
    "CapturingSender",
    "reset_rate_limits",
    "test_settings",
]

#: A fixed 64-byte secret for tests; never use it anywhere else.
TEST_SECRET = "test-secret-for-authmanager-tests-only-0123456789abcdef0123456789"


def test_settings(**overrides: Any) -> AuthSettings:
    """Return settings for tests: a fixed secret, the cheapest bcrypt cost, plain-http cookies.

    Keyword arguments override any field. The environment is still read for fields
    not given, so clear `JWT_*`/`AUTH_*` variables in your test setup; a `.env` file is
    not (pass `_env_file=".env"` to read one).
    """
    values: dict[str, Any] = {"secret_key": TEST_SECRET, "bcrypt_rounds": 4, "_env_file": None}
    values.update(overrides)
    return AuthSettings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined] # not a pytest test


async def reset_rate_limits(manager: AuthManager[Any]) -> None:
    """Forget every failed login and refresh counted by *manager* (between tests).

    With a Redis storage this clears the counts of every manager on that Redis
    database, so point test managers at a database of their own.
    """
    await manager.reset_rate_limits()


class CapturingHook:
    """A hook that records every event it receives, in order.

    It is an async hook, so it runs on the event loop; call
    `await manager.drain_events()` before reading `events`.
    """

    def __init__(self) -> None:
        self.events: list[AuthEvent] = []

    async def __call__(self, event: AuthEvent) -> None:
        """Record *event*."""
        self.events.append(event)

    def names(self) -> list[str]:
        """Return the names of the recorded events, in order."""
        return [str(e.name) for e in self.events]

    def of(self, name: EventName | str) -> list[AuthEvent]:
        """Return the recorded events called *name*."""
        return [e for e in self.events if e.name == name]

    def last(self, name: EventName | str) -> AuthEvent:
        """Return the last event called *name*; raise `LookupError` when there is none."""
        found = self.of(name)
        if not found:
            raise LookupError(f"no {name} event among {self.names()}")
        return found[-1]

    def clear(self) -> None:
        """Forget the recorded events."""
        self.events.clear()


class CapturingSender:
    """A sender that records every `AccountMessage` it gets, oldest first.

    Messages are sent in the background: drain the manager's outbox (or its events)
    before reading `messages`. `last(purpose).token` is the token a test goes on with.
    """

    def __init__(self) -> None:
        self.messages: list[AccountMessage] = []

    async def __call__(self, message: AccountMessage) -> None:
        """Record *message*."""
        self.messages.append(message)

    def of(self, purpose: Purpose | str) -> list[AccountMessage]:
        """Return the recorded messages of *purpose*, oldest first."""
        return [m for m in self.messages if m.purpose == purpose]

    def last(self, purpose: Purpose | str) -> AccountMessage:
        """Return the last message of *purpose*; raise `LookupError` when there is none."""
        found = self.of(purpose)
        if not found:
            raise LookupError(
                f"no {purpose} message among {[str(m.purpose) for m in self.messages]}"
            )
        return found[-1]

    def clear(self) -> None:
        """Forget the recorded messages."""
        self.messages.clear()
