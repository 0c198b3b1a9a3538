"""The negative cases of issue 17 over HTTP, each against the real test provider.

Every refusal is a clear 4xx that changes nothing stored (no link, no account, no
session cookie), and a browser gets a page, never a 500.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest

from tests.identities.conftest import MakeWeb, providers_for
from tests.identities.support import Member, native_id_token, sign_in_at_provider
from tests.identities.web import CROSS_SITE, HTML, JSON, Web, query_of

NOTHING = {"identities": 0, "flows": 0, "replays": 0, "members": 0}


def no_session_cookie(answer: object) -> bool:
    cookies = "".join(answer.headers.get_list("set-cookie"))  # type: ignore[attr-defined]
    return "refresh_token=" not in cookies


def altered(value: str) -> str:
    """*value* with its last two characters changed (still well formed)."""
    return value[:-2] + ("AA" if not value.endswith("AA") else "BB")


# --- state: bound to the browser, usable once ----------------------------------------
async def test_tampered_state_is_400_and_changes_nothing(web: Web) -> None:
    back = await web.at_provider()
    assert back.state
    url = back.url.replace(f"state={back.state}", f"state={altered(back.state)}")
    answer = await web.callback(url)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "invalid_state" in answer.text
    assert no_session_cookie(answer)
    assert await web.stored() == {**NOTHING, "flows": 1}  # the real flow may still finish


async def test_callback_in_a_browser_without_the_flow_cookie_is_400(web: Web) -> None:
    """Login CSRF: the attacker's callback URL opened in the victim's browser."""
    back = await web.at_provider()
    victim = web.browser()
    answer = await web.callback(back.url, client=victim, headers=JSON)
    assert answer.status_code == 400
    assert answer.json()["reason"] == "invalid_state"
    assert no_session_cookie(answer)
    assert (await web.stored())["identities"] == 0


async def test_callback_with_another_browsers_flow_cookie_is_400(web: Web) -> None:
    back = await web.at_provider()
    victim = web.browser()
    await web.authorize(client=victim)  # the victim has a flow cookie of its own
    answer = await web.callback(back.url, client=victim, headers=JSON)
    assert answer.status_code == 400
    assert answer.json()["reason"] == "invalid_state"
    assert (await web.stored())["identities"] == 0


async def test_replayed_callback_is_400(web: Web) -> None:
    """The same callback URL twice (a reload, or a stolen URL): the state is spent."""
    back = await web.at_provider()
    first = await web.callback(back.url)
    again = await web.callback(back.url, headers=JSON)
    assert first.status_code == 303
    assert again.status_code == 400
    assert again.json()["reason"] == "invalid_state"
    assert no_session_cookie(again)


async def test_replayed_code_is_400(web: Web) -> None:
    """A used code under a new state of the same browser: the provider refuses it."""
    back = await web.at_provider()
    await web.callback(back.url)
    second = await web.authorize()
    state = query_of(second.headers["location"])["state"]
    url = back.url.replace(f"state={back.state}", f"state={state}")
    answer = await web.callback(url, headers=JSON)
    assert answer.status_code == 400
    assert answer.json()["reason"] == "invalid_code"
    assert no_session_cookie(answer)
    assert (await web.stored())["identities"] == 1  # the first sign-in's, nothing more


async def test_denied_at_the_provider_is_400_and_spends_the_state(web: Web) -> None:
    started = await web.authorize()
    state = query_of(started.headers["location"])["state"]
    answer = await web.client.get(
        "/auth/oidc/test/callback",
        params={"error": "access_denied", "state": state},
        headers=HTML,
    )
    assert answer.status_code == 400
    assert "invalid_code" in answer.text
    assert await web.stored() == NOTHING


async def test_mixed_up_issuer_is_400(web: Web) -> None:
    """RFC 9207: the callback names another issuer."""
    back = await web.at_provider()
    assert back.iss
    url = back.url.replace("iss=", "iss=https%3A%2F%2Fevil.example%2F&was=")
    answer = await web.callback(url, headers=JSON)
    assert answer.status_code == 400
    assert answer.json()["reason"] == "wrong_issuer"
    assert (await web.stored())["identities"] == 0


# --- the callback's cross-site rule (issue 11's, less the provider's redirect) -------
#: What Chromium sends with the provider's redirect back: a top-level cross-site
#: navigation, no Origin (checked end to end by tests/browser/test_oidc_browser.py).
NAVIGATION = {
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-User": "?1",
}


async def test_callback_as_a_cross_site_navigation_signs_in(web: Web) -> None:
    """The provider's redirect back is cross-site by nature: it must pass."""
    back = await web.at_provider()
    answer = await web.callback(back.url, headers={**HTML, **NAVIGATION})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/home"
    assert not no_session_cookie(answer)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(CROSS_SITE, id="origin-of-another-site"),
        pytest.param({"Origin": "null", **NAVIGATION}, id="null-origin"),
        pytest.param(
            {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
            id="script-fetch",
        ),
        pytest.param({**NAVIGATION, "Sec-Fetch-Dest": "iframe"}, id="frame"),
        pytest.param(
            {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, id="image-or-script"
        ),
    ],
)
async def test_callback_refuses_what_no_provider_redirect_is(
    web: Web, headers: dict[str, str]
) -> None:
    """403 `csrf` before the state is looked at: the real navigation still finishes."""
    back = await web.at_provider()
    await web.manager.drain_events()
    web.events.clear()
    answer = await web.callback(back.url, headers={**JSON, **headers})
    assert answer.status_code == 403, answer.text
    assert answer.json()["reason"] == "csrf"
    assert no_session_cookie(answer)
    assert await web.stored() == {**NOTHING, "flows": 1}
    await web.manager.drain_events()
    assert [e.reason for e in web.events.events] == ["csrf"]
    finished = await web.callback(back.url, headers={**HTML, **NAVIGATION})
    assert finished.status_code == 303, finished.text


# --- the ID token ----------------------------------------------------------------------
async def test_wrong_nonce_is_400_and_creates_no_account(web: Web) -> None:
    """The authorization request altered on its way: the ID token's nonce is not ours."""
    started = await web.authorize()
    url = started.headers["location"].replace("nonce=", "nonce=altered")
    back = await sign_in_at_provider(url)
    answer = await web.callback(back.url, headers=JSON)
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "The ID token's nonce does not match.",
        "error": "invalid_grant",
        "error_description": "The ID token's nonce does not match.",
        "reason": "invalid_nonce",
    }
    assert await web.stored() == NOTHING


async def test_native_id_token_for_another_audience_is_400(web: Web, oidc_issuer: str) -> None:
    """A real ID token issued to another client (aud=basic) at the provider entry of web."""
    nonce = secrets.token_urlsafe(24)
    token = await native_id_token(
        oidc_issuer,
        nonce=nonce,
        client_id="basic",
        client_secret="basic-secret",
        redirect_uri="https://app.test/auth/oidc/basic/callback",
    )
    answer = await web.client.post(
        "/auth/oidc/test/token", json={"id_token": token, "nonce": nonce}
    )
    assert answer.status_code == 400
    assert answer.json()["reason"] == "wrong_audience"
    assert await web.stored() == NOTHING


async def test_expired_native_id_token_is_400(make_web: MakeWeb, oidc_issuer: str) -> None:
    """The short client's ID tokens live 2 s; after that (no leeway) they are refused."""
    web = make_web(providers=providers_for(oidc_issuer), leeway_seconds=0)
    nonce = secrets.token_urlsafe(24)
    token = await native_id_token(
        oidc_issuer,
        nonce=nonce,
        client_id="short",
        client_secret="short-secret",
        redirect_uri="https://app.test/auth/oidc/short/callback",
    )
    await asyncio.sleep(3.1)
    answer = await web.client.post(
        "/auth/oidc/short/token", json={"id_token": token, "nonce": nonce}
    )
    assert answer.status_code == 400
    assert answer.json()["reason"] == "expired"
    assert answer.json()["error"] == "invalid_grant"
    assert await web.stored() == NOTHING


# --- pre-account takeover --------------------------------------------------------------
async def add_member(web: Web, email: str, *, verified: bool) -> None:
    async with web.sessions() as session, session.begin():
        session.add(
            Member(
                email=email,
                hashed_password=await web.manager.hash_password_async("pw-for-tests"),
                is_verified=verified,
            )
        )


async def test_unverified_provider_email_never_takes_an_existing_account(web: Web) -> None:
    """bob's provider does not vouch for his email: the account with it is not his."""
    await add_member(web, "bob@example.com", verified=True)
    answer = await web.sign_in(login="bob")
    assert answer.status_code == 403
    assert "This identity cannot sign in to this application." in answer.text
    assert no_session_cookie(answer)
    assert await web.stored() == {**NOTHING, "members": 1}


async def test_unverified_local_account_is_not_linked_by_email(web: Web) -> None:
    """An account someone registered with alice's email but never verified stays apart."""
    await add_member(web, "alice@example.com", verified=False)
    answer = await web.sign_in(login="alice")
    assert answer.status_code == 403
    assert no_session_cookie(answer)
    assert (await web.stored())["identities"] == 0


async def test_both_verified_links_the_existing_account(web: Web) -> None:
    await add_member(web, "alice@example.com", verified=True)
    answer = await web.sign_in(login="alice")
    assert answer.status_code == 303
    assert await web.stored() == {**NOTHING, "identities": 1, "members": 1}


async def test_same_refusal_whether_or_not_an_account_exists(
    make_web: MakeWeb, oidc_issuer: str
) -> None:
    """No enumeration: the refused takeover answers as the loader's own refusal does."""
    refusing = make_web(providers=providers_for(oidc_issuer))
    refusing.users.get_user_for_identity = _refuse  # type: ignore[method-assign]
    one = await refusing.sign_in(login="bob")  # no account has bob's email
    taken = make_web(providers=providers_for(oidc_issuer))
    await add_member(taken, "bob@example.com", verified=True)
    other = await taken.sign_in(login="bob")
    assert (one.status_code, one.text) == (other.status_code, other.text)


async def _refuse(session: object, identity: object) -> None:
    return None


# --- next: a same-site path only ------------------------------------------------------
OPEN_REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "/\tevil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/%E2%80%AE/evil",
    "/\uff0f\uff0fevil.example",
]


@pytest.mark.parametrize("next_path", OPEN_REDIRECTS)
async def test_open_redirect_next_is_400_before_anything_happens(web: Web, next_path: str) -> None:
    answer = await web.authorize(next=next_path)
    assert answer.status_code == 400
    assert "unsafe_redirect" in answer.text
    assert "location" not in answer.headers
    assert "set-cookie" not in answer.headers
    assert await web.stored() == NOTHING


# --- the native exchange -----------------------------------------------------------------
async def native(web: Web, provider: str = "native") -> tuple[str, str]:
    nonce = secrets.token_urlsafe(24)
    issuer = web.settings.oidc_providers[provider].issuer or ""
    return await native_id_token(issuer, nonce=nonce), nonce


async def test_native_exchange_answers_the_login_token_response(web: Web) -> None:
    token, nonce = await native(web)
    answer = await web.client.post(
        "/auth/oidc/native/token", json={"id_token": token, "nonce": nonce}
    )
    body = answer.json()
    me = await web.client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert answer.status_code == 200
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert answer.headers["cache-control"] == "no-store"
    assert "refresh_token=" in answer.headers["set-cookie"]  # the cookie transport
    assert me.json()["email"] == "alice@example.com"


async def test_native_exchange_with_the_body_transport(make_web: MakeWeb, oidc_issuer: str) -> None:
    web = make_web(providers=providers_for(oidc_issuer), refresh_token_transport="body")
    token, nonce = await native(web)
    answer = await web.client.post(
        "/auth/oidc/native/token", json={"id_token": token, "nonce": nonce}
    )
    assert answer.status_code == 200
    assert answer.json()["refresh_token"]
    assert "set-cookie" not in answer.headers


async def test_native_nonce_is_exchanged_once(web: Web) -> None:
    """A stolen ID token replayed with its nonce: refused, no second session."""
    token, nonce = await native(web)
    body = {"id_token": token, "nonce": nonce}
    first = await web.client.post("/auth/oidc/native/token", json=body)
    again = await web.browser().post("/auth/oidc/native/token", json=body)
    payload = await web.manager.verify_token(first.json()["access_token"])
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json()["reason"] == "invalid_nonce"
    assert len(await web.manager.list_sessions(payload.sub)) == 1


async def test_native_wrong_nonce_is_400(web: Web) -> None:
    token, _ = await native(web)
    answer = await web.client.post(
        "/auth/oidc/native/token", json={"id_token": token, "nonce": secrets.token_urlsafe(24)}
    )
    assert answer.status_code == 400
    assert answer.json()["reason"] == "invalid_nonce"
    assert await web.stored() == NOTHING


async def test_native_tampered_id_token_is_400(web: Web) -> None:
    token, nonce = await native(web)
    header, payload, signature = token.split(".")
    answer = await web.client.post(
        "/auth/oidc/native/token",
        json={"id_token": f"{header}.{payload}.{signature[::-1]}", "nonce": nonce},
    )
    assert answer.status_code == 400
    assert answer.json()["reason"] in {"signature", "malformed"}
    assert await web.stored() == NOTHING


async def test_native_exchange_refuses_a_cross_site_browser(web: Web) -> None:
    """Login CSRF: another site's page posting the attacker's ID token."""
    token, nonce = await native(web)
    answer = await web.client.post(
        "/auth/oidc/native/token", json={"id_token": token, "nonce": nonce}, headers=CROSS_SITE
    )
    assert answer.status_code == 403
    assert answer.json()["reason"] == "csrf"
    assert no_session_cookie(answer)
    assert await web.stored() == NOTHING


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ('{"id_token": "a.b.c", "nonce": "n"}', "text/plain"),
        ("id_token=a.b.c&nonce=n", "application/x-www-form-urlencoded"),
        ('{"id_token": "a.b.c"}', "application/json"),
        ('{"id_token": "a.b.c", "nonce": "abcdefghijklmnopq", "x": 1}', "application/json"),
        ("[]", "application/json"),
        ("not json", "application/json"),
    ],
)
async def test_native_exchange_takes_only_its_json_body(
    web: Web, content: str, content_type: str
) -> None:
    """A form or text/plain (what a cross-site page can send) is no JSON body: 422."""
    answer = await web.client.post(
        "/auth/oidc/native/token", content=content, headers={"Content-Type": content_type}
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert "a.b.c" not in answer.text


@pytest.mark.parametrize("provider", ["nope", "plain"])
async def test_native_exchange_at_no_oidc_provider_is_404(web: Web, provider: str) -> None:
    answer = await web.client.post(
        f"/auth/oidc/{provider}/token",
        json={"id_token": "a.b.c", "nonce": secrets.token_urlsafe(24)},
    )
    assert answer.status_code == 404
    assert answer.json()["reason"] == "unknown_provider"
