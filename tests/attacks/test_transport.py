"""Attacks on how credentials travel (RFC 6750 §2, RFC 9700 §4.14, ASVS V10.4)."""

from __future__ import annotations

from typing import Any

from authmanager import AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import bearer, csrf_headers
from tests.support.attacks import Victim
from tests.support.events import nothing_reported, rejected
from tests.support.rows import snapshot


async def _no_rejection(manager: AuthManager[User], events: CapturingHook) -> None:
    await manager.drain_events()
    assert events.of(EventName.TOKEN_REJECTED) == []
    await nothing_reported(manager, events)


async def _rejected_once(manager: AuthManager[User], events: CapturingHook, reason: str) -> None:
    """Exactly one `token.rejected` event, with *reason*, and nothing issued or revoked."""
    await manager.drain_events()
    assert [str(e.reason) for e in events.of(EventName.TOKEN_REJECTED)] == [reason]
    await nothing_reported(manager, events)


async def _refresh_still_works(victim: Victim) -> None:
    """The victim's refresh cookie was not consumed by the refused attempt."""
    response = await victim.client.post("/auth/refresh", headers=csrf_headers(victim.client))
    assert response.status_code == 200, response.text


async def test_token_in_query_string_is_ignored(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A valid token in `?access_token=` is never read (RFC 6750 §2.3 is not supported)."""
    before = await snapshot(session_factory)
    response = await victim.client.get("/me", params={"access_token": victim.access})
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Not authenticated."}
    await _no_rejection(manager, events)
    assert await snapshot(session_factory) == before


async def test_cookie_refresh_without_csrf_header_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A refresh riding on the cookie alone (a cross-site form post) is refused."""
    before = await snapshot(session_factory)
    response = await victim.client.post("/auth/refresh")
    assert response.status_code == 403, response.text
    assert response.json()["reason"] == "csrf"
    await _rejected_once(manager, events, "csrf")
    assert await snapshot(session_factory) == before
    await _refresh_still_works(victim)


async def test_cookie_refresh_with_wrong_csrf_header_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A CSRF header that does not echo the CSRF cookie is refused."""
    before = await snapshot(session_factory)
    response = await victim.client.post("/auth/refresh", headers={"X-CSRF-Token": "guess"})
    assert response.status_code == 403, response.text
    assert response.json()["reason"] == "csrf"
    await _rejected_once(manager, events, "csrf")
    assert await snapshot(session_factory) == before
    await _refresh_still_works(victim)


async def test_cookie_refresh_from_another_origin_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A cookie refresh from a foreign Origin is refused even with the CSRF header."""
    before = await snapshot(session_factory)
    headers = {**csrf_headers(victim.client), "Origin": "https://evil.example"}
    response = await victim.client.post("/auth/refresh", headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["reason"] == "csrf"
    await _rejected_once(manager, events, "csrf")
    assert await snapshot(session_factory) == before
    await _refresh_still_works(victim)


async def test_oversized_authorization_header_is_refused_before_parsing(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A 64 KiB bearer token is refused by size, before any decoding."""
    before = await snapshot(session_factory)
    response = await victim.client.get("/me", headers=bearer(victim.access + "A" * 65536))
    assert response.status_code == 401, response.text
    await rejected(manager, events, "oversized")
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before
    await victim.still_works()


async def test_duplicated_authorization_headers_are_refused(
    victim: Victim,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
    create_user: Any,
) -> None:
    """Two Authorization headers (proxy confusion) are refused, whichever would win."""
    before = await snapshot(session_factory)
    headers = [("Authorization", f"Bearer {victim.access}"), ("Authorization", "Bearer x.y.z")]
    response = await victim.client.get("/me", headers=headers)
    assert response.status_code == 401, response.text
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    await _rejected_once(manager, events, "duplicate_credentials")
    assert await snapshot(session_factory) == before
    await victim.still_works()


async def test_non_bearer_scheme_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """The token under the Basic scheme is refused, not accepted as a bearer."""
    before = await snapshot(session_factory)
    response = await victim.client.get("/me", headers={"Authorization": f"Basic {victim.access}"})
    assert response.status_code == 401, response.text
    await _rejected_once(manager, events, "malformed")
    assert await snapshot(session_factory) == before
    await victim.still_works()


async def test_duplicated_refresh_cookies_are_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """Two different refresh cookies (cookie tossing from a subdomain) are refused."""
    real = victim.client.cookies.get("refresh_token")
    csrf = victim.client.cookies.get("csrf_token")
    before = await snapshot(session_factory)
    cookie = f"refresh_token=tossed.by.attacker; refresh_token={real}; csrf_token={csrf}"
    victim.client.cookies.clear()
    response = await victim.client.post(
        "/auth/refresh", headers={"Cookie": cookie, "X-CSRF-Token": csrf or ""}
    )
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "duplicate_credentials"
    await _rejected_once(manager, events, "duplicate_credentials")
    assert await snapshot(session_factory) == before
    again = await victim.client.post("/auth/refresh", json={"refresh_token": real})
    assert again.status_code == 200, again.text


async def test_cookie_and_body_with_different_refresh_tokens_are_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A body token differing from the cookie's (a planted token) is refused."""
    before = await snapshot(session_factory)
    response = await victim.client.post(
        "/auth/refresh",
        json={"refresh_token": "planted.by.attacker"},
        headers=csrf_headers(victim.client),
    )
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "duplicate_credentials"
    await _rejected_once(manager, events, "duplicate_credentials")
    assert await snapshot(session_factory) == before
    await _refresh_still_works(victim)
