"""Attacks with hostile request bodies (ASVS V6.2 password length, V10.4, RFC 6749 §5.2)."""

from __future__ import annotations

from typing import Any

import httpx

from authmanager import AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import csrf_headers, login
from tests.support.attacks import Victim
from tests.support.events import nothing_reported
from tests.support.rows import snapshot


async def _unchanged_422(
    response: httpx.Response,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
    before: Any,
) -> None:
    """422 with a JSON body and no traceback, no event of success, no row written."""
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text
    assert response.json()["detail"]
    await nothing_reported(manager, events)
    assert events.of(EventName.TOKEN_REJECTED) == []
    assert await snapshot(session_factory) == before


async def test_huge_password_is_refused_before_hashing(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A 10 KiB password is refused by the form's bound (422) and never reaches bcrypt.

    (A body over `max_body_bytes`, 64 KiB, is refused earlier with 413: test_hardening_body.)
    """
    before = await snapshot(session_factory)
    response = await login(victim.client, password="p" * 10_000)
    await _unchanged_422(response, manager, events, session_factory, before)
    assert "p" * 64 not in response.text
    assert events.of(EventName.LOGIN_FAILED) == []


async def test_password_over_byte_bound_is_refused_before_hashing(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """400 three-byte characters (1200 bytes > 1024) are refused as too long, unhashed."""
    before = await snapshot(session_factory)
    response = await login(victim.client, password="€" * 400)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_grant"
    await manager.drain_events()
    assert [e.reason for e in events.of(EventName.LOGIN_FAILED)] == ["password_too_long"]
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before


async def test_malformed_json_refresh_body_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A refresh body that is not JSON at all answers 422, not 500."""
    before = await snapshot(session_factory)
    response = await victim.client.post(
        "/auth/refresh",
        content=b'{"refresh_token": ',
        headers={"Content-Type": "application/json"},
    )
    await _unchanged_422(response, manager, events, session_factory, before)


async def test_deeply_nested_json_refresh_body_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A refresh body nesting 20 000 arrays (RecursionError) answers 422."""
    before = await snapshot(session_factory)
    response = await victim.client.post(
        "/auth/refresh",
        content=b"[" * 20000 + b"]" * 20000,
        headers={"Content-Type": "application/json"},
    )
    await _unchanged_422(response, manager, events, session_factory, before)


async def test_refresh_token_of_wrong_json_type_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """`{"refresh_token": {"$gt": ""}}` (operator injection) answers 422."""
    before = await snapshot(session_factory)
    response = await victim.client.post("/auth/refresh", json={"refresh_token": {"$gt": ""}})
    await _unchanged_422(response, manager, events, session_factory, before)


async def test_oversized_refresh_body_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A 1 MiB refresh body is refused without parsing it: 413 past `max_body_bytes`."""
    before = await snapshot(session_factory)
    response = await victim.client.post(
        "/auth/refresh",
        json={"refresh_token": "a" * (1 << 20)},
        headers=csrf_headers(victim.client),
    )
    assert response.status_code == 413, response.text
    assert response.json()["reason"] == "body_too_large"
    await nothing_reported(manager, events)
    assert events.of(EventName.TOKEN_REJECTED) == []
    assert await snapshot(session_factory) == before


async def test_refresh_form_with_password_grant_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A refresh form naming another grant type answers 400 `unsupported_grant_type`."""
    before = await snapshot(session_factory)
    response = await victim.client.post(
        "/auth/refresh", data={"grant_type": "password", "refresh_token": "x"}
    )
    assert response.status_code == 400, response.text  # RFC 6749 §5.2
    assert response.json()["error"] == "unsupported_grant_type"
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before


async def test_login_without_password_field_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A login form missing the password answers 422 and counts no login attempt."""
    before = await snapshot(session_factory)
    response = await victim.client.post("/auth/login", data={"username": "alice@example.com"})
    await _unchanged_422(response, manager, events, session_factory, before)
    assert events.of(EventName.LOGIN_FAILED) == []


async def test_login_as_json_instead_of_form_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """Credentials sent as JSON to the form endpoint answer 422, never a 500."""
    before = await snapshot(session_factory)
    response = await victim.client.post(
        "/auth/login", json={"username": "alice@example.com", "password": "x"}
    )
    await _unchanged_422(response, manager, events, session_factory, before)


async def test_login_with_broken_multipart_body_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A multipart body with a bogus boundary answers 4xx, never a 500."""
    before = await snapshot(session_factory)
    response = await victim.client.post(
        "/auth/login",
        content=b'--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice',
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= response.status_code < 500, response.text
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before
