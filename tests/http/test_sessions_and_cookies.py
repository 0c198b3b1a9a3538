"""`DELETE /sessions/{id}` reports the caller's address and agent; `/logout` clears the
cookies with the attributes they were set with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from authmanager import AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import client_for, login
from tests.support.http import bearer, logged_in, set_cookies
from tests.support.rows import Tables

MakeManager = Callable[..., AuthManager[User]]
AGENT = "polish-agent/1.0"
ATTRIBUTES = ("path", "domain", "samesite")


async def test_revoking_a_session_reports_client_ip_and_agent(
    manager: AuthManager[User],
    client: httpx.AsyncClient,
    user: User,
    events: CapturingHook,
    tables: Tables,
) -> None:
    """Ending another session is 204, ends it in the database, and `session.revoked` names
    the caller."""
    other = await logged_in(client)
    mine = await logged_in(client)
    events.clear()
    response = await client.delete(
        f"/auth/sessions/{other.sid}", headers={**bearer(mine.access), "User-Agent": AGENT}
    )
    assert response.status_code == 204
    assert response.content == b""
    assert (await tables.session(other.sid)).revoked_at is not None
    assert (await tables.session(mine.sid)).revoked_at is None
    await manager.drain_events()
    event = events.last(EventName.SESSION_REVOKED)
    assert (event.user_id, event.session_id) == (str(user.id), other.sid)
    assert (event.client_ip, event.user_agent) == ("127.0.0.1", AGENT)
    assert event.reason == "session_revoked"
    assert event.extra["revoked"] >= 1


async def test_revoking_an_unknown_session_is_404_and_reports_nothing(
    manager: AuthManager[User], client: httpx.AsyncClient, user: User, events: CapturingHook
) -> None:
    """An unknown session id is 404 with no `session.revoked` event."""
    mine = await logged_in(client)
    events.clear()
    response = await client.delete("/auth/sessions/nope", headers=bearer(mine.access))
    assert response.status_code == 404
    assert response.json() == {"detail": "No such session."}
    await manager.drain_events()
    assert not events.of(EventName.SESSION_REVOKED)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {
                "cookie_path": "/auth/refresh",
                "cookie_domain": "testserver.local",
                "cookie_samesite": "strict",
                "cookie_secure": False,
            },
            id="custom",
        ),
        pytest.param({"cookie_samesite": "none", "cookie_secure": True}, id="samesite-none"),
    ],
)
async def test_bearer_logout_clears_cookies_with_their_login_attributes(
    make_manager: MakeManager, user: User, tables: Tables, overrides: dict[str, Any]
) -> None:
    """The logout Set-Cookie of each cookie repeats its login Path, Domain, SameSite, Secure."""
    manager = make_manager(**overrides)
    async with client_for(make_app(manager)) as client:
        signed_in = await login(client)
        assert signed_in.status_code == 200
        access = signed_in.json()["access_token"]
        set_at_login = set_cookies(signed_in)
        client.cookies.clear()  # a pure bearer logout: no cookie sent
        response = await client.post("/auth/logout", headers=bearer(access))
    assert response.status_code == 200
    assert response.json() == {"detail": "Logged out."}
    cleared = set_cookies(response)
    assert set(cleared) == set(set_at_login) == {"refresh_token", "csrf_token"}
    for name, before in set_at_login.items():
        after = cleared[name]
        assert after.value == ""
        assert after.attrs["max-age"] == "0"
        for attr in ATTRIBUTES:
            assert after.attrs.get(attr) == before.attrs.get(attr), (name, attr)
        assert ("secure" in after.flags) == ("secure" in before.flags), name
        assert ("httponly" in after.flags) == ("httponly" in before.flags), name
    assert set_at_login["refresh_token"].attrs["path"] == manager.settings.effective_cookie_path
    assert "httponly" in set_at_login["refresh_token"].flags
    if "cookie_domain" in overrides:
        assert set_at_login["refresh_token"].attrs["domain"] == overrides["cookie_domain"]
    assert await tables.live_sessions(str(user.id)) == []
