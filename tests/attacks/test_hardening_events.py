"""Issue 11, item 9: `login.succeeded` names the session it started.

In 0.1 the event came before the session existed, without `session_id`, so an audit
trail could not follow a login to its tokens. Now the session start reports it, with
the session id and how the user signed in (`amr`), before `token.issued`.
"""

from __future__ import annotations

import httpx

from authmanager import AuthManager
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import bearer, login
from tests.support.tokens import claims


async def test_login_succeeded_names_the_session_of_its_tokens(
    client: httpx.AsyncClient, manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """The event's `session_id` is the `sid` of the tokens the login handed out."""
    response = await login(client, headers={"User-Agent": "audit-test"})
    assert response.status_code == 200, response.text
    token = claims(response.json()["access_token"])
    await manager.drain_events()
    assert events.names() == ["login.succeeded", "token.issued"]
    succeeded = events.last(EventName.LOGIN_SUCCEEDED)
    assert succeeded.session_id == token["sid"]
    assert succeeded.user_id == str(user.id) == token["sub"]
    assert succeeded.user_agent == "audit-test"
    assert succeeded.extra == {"amr": "pwd"}
    assert events.last(EventName.TOKEN_ISSUED).session_id == token["sid"]


async def test_the_audit_trail_follows_a_login_to_its_logout(
    client: httpx.AsyncClient, manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """Login, refresh and logout of one session share its id in every event."""
    access = (await login(client)).json()["access_token"]
    assert (await client.post("/auth/logout", headers=bearer(access))).status_code == 200
    await manager.drain_events()
    sid = events.last(EventName.LOGIN_SUCCEEDED).session_id
    assert sid is not None
    assert {e.session_id for e in events.events} == {sid}
