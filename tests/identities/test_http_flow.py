"""The routes of sign-in with providers over HTTP, against the real test provider.

The browser flow ends in an ordinary authmanager session: refresh cookie per the
transport, rotation, listing, revocation. Linking from a fresh session, listing and
unlinking (never the last way to sign in).
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from authmanager import AuthManager
from authmanager.identities.tables import oidc_flows
from tests.identities.conftest import MakeWeb, providers_for
from tests.identities.support import Member, members, sign_in_at_provider
from tests.identities.web import HTML, JSON, Web, query_of
from tests.support.http import bearer


async def test_authorize_redirects_to_provider_with_a_bound_cookie(web: Web) -> None:
    """302 to the provider (PKCE S256, state, nonce); the flow cookie is HttpOnly, Lax."""
    answer = await web.authorize(next="/account")
    query = query_of(answer.headers["location"])
    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"{web.settings.oidc_providers['test'].issuer}/")
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "https://app.test/auth/oidc/test/callback"
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    assert cookie.startswith("authmanager_oidc=")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/auth/oidc" in cookie
    assert "Max-Age=600" in cookie
    assert answer.headers["cache-control"] == "no-store"
    assert await web.count(oidc_flows) == 1


async def test_browser_flow_ends_in_an_ordinary_session(web: Web) -> None:
    """Callback: 303 to next, the refresh cookie set; refresh, /me, sessions, logout work."""
    answer = await web.sign_in(next="/welcome?tab=2")
    cookies = "\n".join(answer.headers.get_list("set-cookie"))
    token = await web.access_token()
    me = await web.client.get("/me", headers=bearer(token))
    sessions = await web.client.get("/auth/sessions", headers=bearer(token))
    payload = await web.manager.verify_token(token)
    logout = await web.client.post("/auth/logout", headers=bearer(token))
    after = await web.client.get("/me", headers=bearer(token))

    assert answer.status_code == 303
    assert answer.headers["location"] == "/welcome?tab=2"
    assert answer.headers["cache-control"].startswith("no-store")
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "refresh_token=" in cookies
    assert "csrf_token=" in cookies
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.com"
    assert payload["amr"] == ["fed"]
    assert len(sessions.json()) == 1
    assert sessions.json()[0]["user_agent"] == "pytest-browser"
    assert logout.status_code == 200
    assert after.status_code == 401
    await web.manager.drain_events()
    assert web.events.last("login.succeeded").extra == {"method": "provider", "provider": "test"}


async def test_refresh_rotates_a_provider_session(web: Web) -> None:
    """The provider session's refresh token rotates like a password session's."""
    await web.sign_in()
    before = web.client.cookies.get("refresh_token")
    await web.access_token()
    assert web.client.cookies.get("refresh_token") != before


async def test_second_sign_in_uses_the_link(web: Web) -> None:
    """The same identity twice: one account, one link, two sessions."""
    first = await web.sign_in()
    second = await web.sign_in(client=web.browser())
    token = await web.access_token()
    listed = await web.client.get("/auth/identities", headers=bearer(token))
    assert first.status_code == 303
    assert second.status_code == 303
    assert len(listed.json()) == 1
    assert (await web.stored())["members"] == 1


async def test_next_defaults_to_the_root(web: Web) -> None:
    answer = await web.sign_in(next=None)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


async def test_two_tabs_share_the_flow_cookie_and_both_finish(web: Web) -> None:
    """Two flows started in one browser: one cookie value, both callbacks succeed."""
    first = await web.authorize(next="/one")
    second = await web.authorize(next="/two")
    back_one = await sign_in_at_provider(first.headers["location"])
    back_two = await sign_in_at_provider(second.headers["location"])
    done_two = await web.callback(back_two.url)
    done_one = await web.callback(back_one.url)
    assert first.cookies["authmanager_oidc"] == second.cookies["authmanager_oidc"]
    assert done_two.headers["location"] == "/two"
    assert done_one.headers["location"] == "/one"


async def test_plain_oauth2_provider_over_http(web: Web) -> None:
    """The GitHub-style provider (explicit endpoints + userinfo) signs in over HTTP."""
    answer = await web.sign_in("plain", login="bob")
    token = await web.access_token()
    listed = await web.client.get("/auth/identities", headers=bearer(token))
    assert answer.status_code == 303
    assert listed.json()[0]["provider"] == "plain"
    assert listed.json()[0]["subject"] == "bob"


async def test_body_transport_hands_tokens_only_to_the_native_exchange(
    make_web: MakeWeb, oidc_issuer: str
) -> None:
    """With AUTH_REFRESH_TOKEN_TRANSPORT=body no browser route is mounted (no cookie to set)."""
    web = make_web(providers=providers_for(oidc_issuer), refresh_token_transport="body")
    paths = {route.path for route in web.manager.router.routes}  # type: ignore[attr-defined]
    assert "/oidc/{provider}/token" in paths
    assert "/identities" in paths
    assert "/oidc/{provider}/authorize" not in paths
    assert "/oidc/{provider}/callback" not in paths


async def test_without_providers_only_identities_are_mounted(make_web: MakeWeb) -> None:
    """No AUTH_OIDC_PROVIDERS: /identities (old links can still be listed), no /oidc."""
    web = make_web()
    paths = {route.path for route in web.manager.router.routes}  # type: ignore[attr-defined]
    token = await web.manager.create_access_token({"sub": "1"})
    listed = await web.client.get("/auth/identities", headers=bearer(token))
    assert {p for p in paths if p.startswith("/oidc")} == set()
    assert listed.status_code == 200
    assert listed.json() == []


async def test_loader_without_get_user_for_identity_is_refused_at_start(
    session_factory: object, oidc_issuer: str
) -> None:
    from authmanager import SQLAlchemyUserLoader
    from authmanager.testing import test_settings

    settings = test_settings(
        oidc_providers=providers_for(oidc_issuer), oidc_redirect_base_url="https://app.test"
    )
    with pytest.raises(TypeError, match="get_user_for_identity"):
        AuthManager(
            settings=settings,
            session_factory=session_factory,  # type: ignore[arg-type]
            user_loader=SQLAlchemyUserLoader(Member, login_field="email"),
        )


# --- linking, listing, unlinking -----------------------------------------------------
async def password_member(web: Web, email: str = "dana@example.com") -> tuple[Member, str]:
    """A member with a password, signed in with it: (member, fresh access token)."""
    async with web.sessions() as session, session.begin():
        member = Member(
            email=email, hashed_password=await web.manager.hash_password_async("pw-for-tests")
        )
        session.add(member)
    answer = await web.client.post(
        "/auth/login", data={"username": email, "password": "pw-for-tests"}
    )
    assert answer.status_code == 200, answer.text
    return member, str(answer.json()["access_token"])


async def test_link_from_a_fresh_session(web: Web) -> None:
    """POST /link (fresh bearer) → provider → callback: the identity is the user's."""
    member, token = await password_member(web)
    started = await web.client.post(
        "/auth/oidc/test/link", params={"next": "/settings"}, headers=bearer(token)
    )
    back = await sign_in_at_provider(started.json()["authorization_url"], login="bob")
    done = await web.callback(back.url)
    listed = await web.client.get("/auth/identities", headers=bearer(token))

    assert started.status_code == 200
    assert started.headers["cache-control"].startswith("no-store")
    assert "authmanager_oidc=" in started.headers["set-cookie"]
    assert done.status_code == 303
    assert done.headers["location"] == "/settings"
    assert "refresh_token=" not in "".join(done.headers.get_list("set-cookie"))
    assert [(i["provider"], i["subject"]) for i in listed.json()] == [("test", "bob")]
    async with web.sessions() as session:
        assert [m.email for m in await members(session)] == [member.email]  # none created
    await web.manager.drain_events()
    assert web.events.last("identity.linked").user_id == str(member.id)


async def test_link_needs_a_fresh_session(web: Web) -> None:
    """A token that is not fresh (refreshed) cannot start a link: 401 not_fresh."""
    await password_member(web)
    stale = await web.access_token()
    answer = await web.client.post("/auth/oidc/test/link", headers=bearer(stale))
    assert answer.status_code == 401
    assert answer.json()["reason"] == "not_fresh"
    assert await web.count(oidc_flows) == 0


async def test_link_refuses_a_cross_site_request(web: Web) -> None:
    _, token = await password_member(web)
    answer = await web.client.post(
        "/auth/oidc/test/link",
        headers={**bearer(token), "Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert answer.json()["reason"] == "csrf"
    assert await web.count(oidc_flows) == 0


async def test_link_of_an_identity_owned_by_another_user_is_409(web: Web) -> None:
    """alice's identity belongs to her account: linking it to dana is a conflict."""
    await web.sign_in(client=web.browser())
    _, token = await password_member(web)
    started = await web.client.post("/auth/oidc/test/link", headers=bearer(token))
    back = await sign_in_at_provider(started.json()["authorization_url"], login="alice")
    done = await web.callback(back.url, headers=JSON)
    assert done.status_code == 409
    assert done.json()["reason"] == "identity_in_use"


async def test_unlink_last_identity_without_password_is_409(web: Web) -> None:
    """alice signed up with the provider (no password): her only identity stays."""
    await web.sign_in()
    token = await web.access_token()
    fresh = await sign_in_fresh(web)
    (identity,) = (await web.client.get("/auth/identities", headers=bearer(token))).json()
    answer = await web.client.delete(f"/auth/identities/{identity['id']}", headers=bearer(fresh))
    assert answer.status_code == 409
    assert answer.json()["reason"] == "last_sign_in_method"
    assert (await web.stored())["identities"] == 1


async def test_unlink_with_a_password_left_is_204_and_listing_shows_it(web: Web) -> None:
    _, token = await password_member(web)
    started = await web.client.post("/auth/oidc/test/link", headers=bearer(token))
    back = await sign_in_at_provider(started.json()["authorization_url"], login="bob")
    await web.callback(back.url)
    (identity,) = (await web.client.get("/auth/identities", headers=bearer(token))).json()
    gone = await web.client.delete(f"/auth/identities/{identity['id']}", headers=bearer(token))
    again = await web.client.delete(f"/auth/identities/{identity['id']}", headers=bearer(token))
    listed = await web.client.get("/auth/identities", headers=bearer(token))
    assert gone.status_code == 204
    assert again.status_code == 404
    assert listed.json() == []
    await web.manager.drain_events()
    assert web.events.last("identity.unlinked").extra["identity_id"] == identity["id"]


async def test_unlink_needs_a_fresh_session(web: Web) -> None:
    _, token = await password_member(web)
    stale = await web.access_token()
    answer = await web.client.delete("/auth/identities/whatever", headers=bearer(stale))
    assert answer.status_code == 401
    assert answer.json()["reason"] == "not_fresh"
    assert token != stale


async def test_identities_need_a_bearer(web: Web) -> None:
    assert (await web.client.get("/auth/identities")).status_code == 401


async def test_purge_expired_counts_flows(web: Web) -> None:
    """purge_expired deletes provider sign-ins never completed, once expired."""
    await web.authorize()
    async with web.sessions() as session, session.begin():
        await session.execute(update(oidc_flows).values(expires_at=oidc_flows.c.created_at))
    assert await web.manager.purge_expired() == 1
    assert await web.count(oidc_flows) == 0


async def test_errors_are_json_for_api_clients_and_pages_for_browsers(web: Web) -> None:
    """The same refusal: JSON when asked (Accept), a page with the message for a browser."""
    page = await web.client.get("/auth/oidc/nope/authorize", headers=HTML)
    data = await web.client.get("/auth/oidc/nope/authorize", headers=JSON)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No such identity provider." in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert data.status_code == 404
    assert data.json() == {
        "detail": "No such identity provider.",
        "error": "invalid_request",
        "error_description": "No such identity provider.",
        "reason": "unknown_provider",
    }


async def sign_in_fresh(web: Web) -> str:
    """A fresh access token for the account alice's provider sign-in made.

    A browser gets only the refresh cookie from the callback, and refreshed tokens are
    never fresh; the manager mints the fresh one a password re-entry would give.
    """
    token = await web.access_token()
    payload = await web.manager.verify_token(token)
    pair = await web.manager.create_token_pair({"sub": payload.sub}, fresh=True)
    return pair.access_token
