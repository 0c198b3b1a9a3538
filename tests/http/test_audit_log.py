"""AuditLogHook: one structured line per event, and no secret in any log line."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import structlog
from structlog.testing import capture_logs

from authmanager import AuthManager
from authmanager.hooks import AuditLogHook, AuthEvent
from authmanager.testing import TEST_SECRET, CapturingHook
from tests.app import User, make_app
from tests.conftest import PASSWORD, bearer, client_for, csrf_headers, login
from tests.support.events import HEADERS
from tests.support.tokens import resign

MakeManager = Callable[..., AuthManager[User]]
WRONG_PASSWORD = "Tr0ub4dor&3-not-it"


async def test_audit_log_writes_one_line_per_event_with_its_fields(
    make_manager: MakeManager, user: User, events: CapturingHook
) -> None:
    """Each event becomes one structlog entry named after it, carrying its fields."""
    manager = make_manager(hooks=[AuditLogHook(), events])
    with capture_logs() as logs:
        async with client_for(make_app(manager)) as client:
            ok = await login(client, headers=HEADERS)
            bad = await login(client, password=WRONG_PASSWORD, headers=HEADERS)
        await manager.drain_events()
    assert (ok.status_code, bad.status_code) == (200, 401)
    by_name = {entry["event"]: entry for entry in logs}
    assert sorted(by_name) == ["login.failed", "login.succeeded", "token.issued"]
    assert len(logs) == 3
    issued = events.last("token.issued")
    assert by_name["token.issued"] == {
        "event": "token.issued",
        "log_level": "info",
        "at": issued.at.isoformat(),
        "user_id": str(user.id),
        "session_id": issued.session_id,
        "token_id": issued.token_id,
        "client_ip": "127.0.0.1",
        "user_agent": HEADERS["User-Agent"],
    }
    assert by_name["login.failed"]["log_level"] == "warning"
    assert by_name["login.failed"]["reason"] == "bad_credentials"


async def test_audit_log_uses_the_authmanager_audit_stdlib_logger(
    make_manager: MakeManager, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Through structlog's stdlib integration the lines come from `authmanager.audit`."""
    structlog.configure(
        processors=[structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    try:
        caplog.set_level(logging.INFO, logger="authmanager.audit")
        manager = make_manager(hooks=[AuditLogHook()])
        async with client_for(make_app(manager)) as client:
            assert (await login(client)).status_code == 200
        await manager.drain_events()
    finally:
        structlog.reset_defaults()
    audit = [r for r in caplog.records if r.name == "authmanager.audit"]
    # Hooks run off the event loop: the two lines may arrive in either order.
    assert sorted(r.getMessage() for r in audit) == ["login.succeeded", "token.issued"]
    assert {r.user_id for r in audit} == {str(user.id)}  # type: ignore[attr-defined]


async def test_no_log_line_holds_a_token_password_or_secret(
    make_manager: MakeManager, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """A full flow with the audit log, a failing hook and debug logging leaks no credential."""

    def broken(event: AuthEvent) -> None:
        raise RuntimeError(f"hook failed on {event!r}")

    caplog.set_level(logging.DEBUG)
    manager = make_manager(hooks=[AuditLogHook(), broken], refresh_reuse_grace_seconds=0)
    secrets: list[str] = [PASSWORD, WRONG_PASSWORD, TEST_SECRET]
    with capture_logs() as logs:
        async with client_for(make_app(manager)) as client:
            assert (await login(client, password=WRONG_PASSWORD)).status_code == 401
            first = await login(client, headers=HEADERS)
            access = first.json()["access_token"]
            old_refresh = client.cookies.get("refresh_token") or ""
            assert (await client.get("/me", headers=bearer(access))).status_code == 200
            forged = resign(access, secret="x" * 48)
            assert (await client.get("/me", headers=bearer(forged))).status_code == 401
            refreshed = await client.post("/auth/refresh", headers=csrf_headers(client))
            assert refreshed.status_code == 200
            new_access = refreshed.json()["access_token"]
            new_refresh = client.cookies.get("refresh_token") or ""
            fresh = await client.post(
                "/auth/fresh", data={"password": WRONG_PASSWORD}, headers=bearer(new_access)
            )
            assert fresh.status_code == 401
            client.cookies.clear()
            reuse = await client.post("/auth/refresh", json={"refresh_token": old_refresh})
            assert reuse.status_code == 401
            last = (await login(client)).json()["access_token"]
            bye = await client.post("/auth/logout-all", headers=bearer(last))
            assert bye.status_code == 200
        await manager.drain_events()
    tokens = [access, old_refresh, new_access, new_refresh, forged, last]
    secrets += tokens + [t.split(".")[2] for t in tokens]
    assert all(len(s) >= 16 for s in secrets)
    lines = [repr(entry) for entry in logs]
    lines += [caplog.text]
    lines += [repr(r.__dict__) for r in caplog.records]
    names = {entry["event"] for entry in logs}
    assert {"login.failed", "login.succeeded", "token.rejected", "token.refreshed"} <= names
    assert {"refresh.reuse_detected", "logout_all", "token.issued"} <= names
    assert any(r.name == "authmanager.hooks" for r in caplog.records)
    assert len(caplog.records) > len(logs)  # debug lines of the libraries underneath too
    for line in lines:
        for secret in secrets:
            assert secret not in line
