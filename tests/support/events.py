"""Event checks: the client's agent the event tests send, and what a refusal reported."""

from __future__ import annotations

from typing import Any

from authmanager import AuthManager
from authmanager.hooks import AuthEvent, EventName
from authmanager.testing import CapturingHook

AGENT = "hooks-test/1.0"
HEADERS = {"User-Agent": AGENT}

#: The fields of `AuthEvent`, as the contract fixes them (none could hold a secret).
FIELDS = {
    "name",
    "at",
    "user_id",
    "session_id",
    "token_id",
    "client_ip",
    "user_agent",
    "reason",
    "extra",
}


async def rejected(manager: AuthManager[Any], events: CapturingHook, reason: str) -> AuthEvent:
    """Assert that exactly one `token.rejected` event was reported, for *reason*."""
    await manager.drain_events()
    found = events.of(EventName.TOKEN_REJECTED)
    assert [e.reason for e in found] == [reason], events.names()
    return found[0]


async def nothing_reported(manager: AuthManager[Any], events: CapturingHook) -> None:
    """Assert that no token was issued, refreshed or revoked."""
    await manager.drain_events()
    quiet = {
        EventName.TOKEN_ISSUED,
        EventName.TOKEN_REFRESHED,
        EventName.TOKEN_REVOKED,
        EventName.LOGIN_SUCCEEDED,
    }
    assert not [e for e in events.events if e.name in quiet], events.names()
