"""Attacks on the claims (RFC 8725 §3.8-3.11, RFC 9068 §4, ASVS V9.2).

Most forgeries are re-signed with the real test secret, as an attacker holding the
secret (or a bug letting a claim through) would: each check must refuse on its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import MakeManager, bearer, client_for, login
from tests.support.attacks import Victim
from tests.support.events import nothing_reported, rejected
from tests.support.rows import snapshot
from tests.support.tokens import forge, parts, resign

HOUR = 3600


async def _attack(
    victim: Victim,
    token: str,
    manager: AuthManager[User],
    events: CapturingHook,
    reason: str,
    session_factory: Any,
) -> None:
    """Present *token* to /me: 401, *reason* reported, no DB change, the victim unharmed."""
    before = await snapshot(session_factory)
    response = await victim.client.get("/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    await rejected(manager, events, reason)
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before
    await victim.still_works()


async def test_expired_token_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A token whose `exp` passed an hour ago is refused beyond the leeway."""
    token = resign(victim.access, exp=int(time.time()) - HOUR)
    await _attack(victim, token, manager, events, "expired", session_factory)


async def test_not_before_in_the_future_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A token with `nbf` an hour ahead is not valid yet."""
    token = resign(victim.access, nbf=int(time.time()) + HOUR)
    await _attack(victim, token, manager, events, "not_yet_valid", session_factory)


async def test_issued_in_the_future_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A token with `iat` an hour ahead (pre-minted for later use) is refused."""
    token = resign(victim.access, iat=int(time.time()) + HOUR)
    await _attack(victim, token, manager, events, "issued_in_future", session_factory)


@pytest.mark.parametrize("claim", ["exp", "jti", "sub", "sid", "type", "iat"])
async def test_missing_required_claim_is_refused(
    claim: str,
    victim: Victim,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
) -> None:
    """A token lacking a required claim is refused even with a valid signature."""
    token = resign(victim.access, drop=(claim,))
    await _attack(victim, token, manager, events, "missing_claim", session_factory)


async def test_expiry_as_a_string_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """`exp` given as a far-future string instead of a NumericDate is malformed."""
    token = resign(victim.access, exp="99999999999")
    await _attack(victim, token, manager, events, "malformed", session_factory)


async def test_wrong_audience_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A token for another audience is refused, though the default audience is derived."""
    token = resign(victim.access, aud="https://other-service.example")
    await _attack(victim, token, manager, events, "wrong_audience", session_factory)


async def test_audience_list_without_ours_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """An `aud` list naming only other services is refused."""
    token = resign(victim.access, aud=["https://a.example", "https://b.example"])
    await _attack(victim, token, manager, events, "wrong_audience", session_factory)


class IssuerSetup:
    def __init__(self, manager: AuthManager[User], victim: Victim) -> None:
        self.manager = manager
        self.victim = victim


@pytest.fixture
async def issuer_setup(
    make_manager: MakeManager, user: User, events: CapturingHook
) -> AsyncIterator[IssuerSetup]:
    """A manager with `issuer` set, and Alice logged in to it."""
    auth = make_manager(issuer="https://auth.example.com")
    async with client_for(make_app(auth)) as client:
        response = await login(client)
        assert response.status_code == 200, response.text
        await auth.drain_events()
        events.clear()
        yield IssuerSetup(auth, Victim(user, response.json()["access_token"], client))


async def test_wrong_issuer_is_refused(
    issuer_setup: IssuerSetup, events: CapturingHook, session_factory: Any
) -> None:
    """A token claiming another issuer is refused by a manager with `issuer` set."""
    token = resign(issuer_setup.victim.access, iss="https://evil.example.com")
    await _attack(
        issuer_setup.victim, token, issuer_setup.manager, events, "wrong_issuer", session_factory
    )


async def test_issuer_substring_is_refused(
    issuer_setup: IssuerSetup, events: CapturingHook, session_factory: Any
) -> None:
    """An `iss` that is only a substring of ours is refused (PyJWT CVE-2024-53861)."""
    token = resign(issuer_setup.victim.access, iss="auth.example")
    await _attack(
        issuer_setup.victim, token, issuer_setup.manager, events, "wrong_issuer", session_factory
    )


async def test_refresh_token_used_as_access_token_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """The refresh token presented as a bearer access token is refused by type."""
    refresh = victim.client.cookies.get("refresh_token")
    assert refresh
    await _attack(victim, refresh, manager, events, "wrong_type", session_factory)


async def test_access_token_used_as_refresh_token_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """The access token posted to /auth/refresh is refused by type; nothing is minted."""
    before = await snapshot(session_factory)
    victim.client.cookies.clear()
    response = await victim.client.post("/auth/refresh", json={"refresh_token": victim.access})
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "wrong_type"
    await rejected(manager, events, "wrong_type")
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before
    await victim.still_works()


async def test_type_header_disagreeing_with_type_claim_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """An access token relabelled `typ: rt+jwt` in its header is refused (RFC 8725 §3.11)."""
    header, claims = parts(victim.access)
    token = forge(claims, {**header, "typ": "rt+jwt"})
    await _attack(victim, token, manager, events, "wrong_type", session_factory)


async def test_token_never_issued_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A perfectly signed token with a `jti` the store never recorded is refused."""
    token = resign(victim.access, jti=str(uuid.uuid4()))
    await _attack(victim, token, manager, events, "unknown_token", session_factory)


async def test_subject_swapped_on_a_real_jti_is_refused(
    victim: Victim,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
    create_user: Any,
) -> None:
    """A real `jti` re-signed for another `sub` does not match its record and is refused."""
    admin = await create_user("root@example.com", role="admin")
    token = resign(victim.access, sub=str(admin.id), role="admin")
    await _attack(victim, token, manager, events, "malformed", session_factory)


async def test_session_id_swapped_on_a_real_jti_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A real `jti` re-signed with another session id does not match its record."""
    token = resign(victim.access, sid=str(uuid.uuid4()))
    await _attack(victim, token, manager, events, "malformed", session_factory)
