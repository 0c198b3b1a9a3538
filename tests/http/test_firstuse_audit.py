"""An audit trail by default: events go to structlog unless turned off; password.changed."""

from __future__ import annotations

from collections.abc import Callable

from structlog.testing import capture_logs

from authmanager import AuditLogHook, AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import PASSWORD, client_for, login

MakeManager = Callable[..., AuthManager[User]]


async def _log_in_twice(manager: AuthManager[User], user: User) -> None:
    async with client_for(make_app(manager)) as client:
        assert (await login(client)).status_code == 200
        assert (await login(client, password="wrong")).status_code == 401
    await manager.drain_events()


async def test_security_events_are_logged_by_default(make_manager: MakeManager, user: User) -> None:
    """A manager built without hooks logs each event through structlog, never a secret."""
    manager = make_manager(hooks=[])
    with capture_logs() as logs:
        await _log_in_twice(manager, user)
    names = [entry["event"] for entry in logs]
    assert {"login.succeeded", "token.issued", "login.failed"} <= set(names)
    failed = next(entry for entry in logs if entry["event"] == "login.failed")
    assert (failed["log_level"], failed["reason"]) == ("warning", "bad_credentials")
    assert PASSWORD not in repr(logs)
    assert "wrong" not in repr(logs)


async def test_audit_log_can_be_turned_off(make_manager: MakeManager, user: User) -> None:
    """`audit_log=False` (AUTH_AUDIT_LOG=false) leaves only the hooks given."""
    manager = make_manager(hooks=[], audit_log=False)
    with capture_logs() as logs:
        await _log_in_twice(manager, user)
    assert logs == []


async def test_an_explicit_audit_hook_is_not_doubled(make_manager: MakeManager, user: User) -> None:
    """Passing an `AuditLogHook` yourself gives one line per event, not two."""
    manager = make_manager(hooks=[AuditLogHook(level="debug")])
    with capture_logs() as logs:
        await _log_in_twice(manager, user)
    assert [e["event"] for e in logs].count("login.succeeded") == 1
    assert next(e for e in logs if e["event"] == "login.succeeded")["log_level"] == "debug"


async def test_password_change_is_its_own_event(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """`change_password` reports `password.changed` (with the count), not `logout_all`."""
    await manager.create_token_pair({"sub": str(user.id)})
    revoked = await manager.change_password(user, "a brand new passphrase 2024")
    await manager.drain_events()
    changed = events.last(EventName.PASSWORD_CHANGED)
    assert events.of(EventName.LOGOUT_ALL) == []
    assert (changed.user_id, changed.reason) == (str(user.id), "password_changed")
    assert changed.extra == {"revoked": revoked}
    assert revoked >= 2
