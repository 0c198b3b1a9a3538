"""Issue 11, item 5: bytes that are not ASCII, in any header or cookie, are never a 5xx.

Starlette decodes header values as latin-1, so any byte reaches the library as some
character. In 0.1 `Origin: https://\\xe9vil.example` on `/login`, or `X-Device-Id:
ph\\xf6ne` with a device-bound token, raised in `hmac.compare_digest` (500); a NUL in a
User-Agent or login name made PostgreSQL fail the request (503). The fuzz test sends
random bytes, latin-1 and invalid UTF-8 included, in every header and cookie the
library reads, straight to the ASGI application (httpx would refuse to send them).
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from authmanager import AuthManager
from authmanager._core.models import sessions
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.attacks.hardening import Body, raw_request
from tests.conftest import PASSWORD, MakeManager, client_for, login
from tests.support.dpop import DPoPKey
from tests.support.events import nothing_reported
from tests.support.rows import snapshot

FORM = b"application/x-www-form-urlencoded"
PROXY = ("10.1.2.3", 40000)


def _form(**fields: str) -> Body:
    return Body(chunks=[urllib.parse.urlencode(fields).encode()])


async def test_non_ascii_origin_on_login_is_a_403(
    manager: AuthManager[User], user: User, events: CapturingHook, session_factory: Any
) -> None:
    """`Origin: https://\\xe9vil.example` is another origin: 403 `csrf`, not 500."""
    before = await snapshot(session_factory)
    headers = [(b"origin", b"https://\xe9vil.example"), (b"content-type", FORM)]
    body = _form(username="alice@example.com", password=PASSWORD)
    response = await raw_request(make_app(manager), "POST", "/auth/login", headers, body)
    assert response.status == 403, response.body
    assert response.json()["reason"] == "csrf"
    assert await snapshot(session_factory) == before
    await nothing_reported(manager, events)


async def test_non_ascii_device_id_is_a_device_mismatch(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """`X-Device-Id: ph\\xf6ne` against a device-bound token: 401 `device_mismatch`, not 500."""
    app = make_app(manager)
    async with client_for(app) as client:
        response = await login(client, headers={"X-Device-Id": "phone-1"})
        access = response.json()["access_token"]
    headers = [(b"authorization", f"Bearer {access}".encode()), (b"x-device-id", b"ph\xf6ne")]
    refused = await raw_request(app, "GET", "/me", headers)
    assert refused.status == 401, refused.body
    assert refused.json() == {"detail": "The token is bound to another device."}
    await manager.drain_events()
    assert events.last(EventName.DEVICE_MISMATCH).user_id == str(user.id)


async def test_non_ascii_device_ids_on_both_sides_compare(
    manager: AuthManager[User], user: User
) -> None:
    """A device id that is not ASCII, bound at login, matches itself and nothing else."""
    app = make_app(manager)
    login_headers = [(b"x-device-id", b"t\xe9l\xe9phone"), (b"content-type", FORM)]
    body = _form(username="alice@example.com", password=PASSWORD)
    response = await raw_request(app, "POST", "/auth/login", login_headers, body)
    assert response.status == 200, response.body
    auth = (b"authorization", f"Bearer {response.json()['access_token']}".encode())
    same = await raw_request(app, "GET", "/me", [auth, (b"x-device-id", b"t\xe9l\xe9phone")])
    assert same.status == 200, same.body
    other = await raw_request(app, "GET", "/me", [auth, (b"x-device-id", b"t\xe9l\xe9phon\xe9")])
    assert other.status == 401, other.body


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("alice@example.com\x00", id="nul"),
        pytest.param("alice@example.com\r\nx", id="crlf"),
        pytest.param("\x1balice", id="escape"),
    ],
)
async def test_login_name_with_control_characters_is_a_422(
    manager: AuthManager[User], user: User, session_factory: Any, name: str
) -> None:
    """A NUL or other control character in `username` is malformed (422), on both databases."""
    before = await snapshot(session_factory)
    async with client_for(make_app(manager)) as client:
        response = await login(client, name)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert name not in response.text
    assert await snapshot(session_factory) == before


async def test_control_characters_in_user_agent_are_not_stored(
    manager: AuthManager[User], user: User, session_factory: Any
) -> None:
    """A User-Agent with a NUL and a line break is cleaned before it is recorded (PostgreSQL)."""
    headers = [(b"user-agent", b"Mozilla\x00/5.0\r\nInjected: 1\xff"), (b"content-type", FORM)]
    body = _form(username="alice@example.com", password=PASSWORD)
    response = await raw_request(make_app(manager), "POST", "/auth/login", headers, body)
    assert response.status == 200, response.body
    async with session_factory() as db:
        agent = (await db.execute(select(sessions.c.user_agent))).scalar_one()
    assert agent == "Mozilla/5.0Injected: 1\xff"


async def test_garbage_forwarded_for_from_a_trusted_proxy_is_not_the_client(
    make_manager: MakeManager, user: User, session_factory: Any, events: CapturingHook
) -> None:
    """A hop that is not an address stops the walk: the client is the last trusted hop."""
    manager = make_manager(trusted_proxies=["10.0.0.0/8"])
    headers = [
        (b"x-forwarded-for", b"198.51.100.4, \xe9vil\x00, 10.9.9.9"),
        (b"content-type", FORM),
    ]
    body = _form(username="alice@example.com", password=PASSWORD)
    app = make_app(manager)
    response = await raw_request(app, "POST", "/auth/login", headers, body, client=PROXY)
    assert response.status == 200, response.body
    async with session_factory() as db:
        recorded = (await db.execute(select(sessions.c.ip_address))).scalar_one()
    assert recorded == "10.9.9.9"
    await manager.drain_events()
    assert events.last(EventName.LOGIN_SUCCEEDED).client_ip == "10.9.9.9"


async def test_dpop_proof_with_a_lone_surrogate_jti_is_answered(
    make_manager: MakeManager, user: User
) -> None:
    """A proof's `jti` of `"\\ud800"` (legal JSON) is remembered like any other: 200, replay 401."""
    manager = make_manager(refresh_token_transport="body")
    key = DPoPKey()
    app = make_app(manager)
    proof = key.proof("POST", "/auth/login", jti="\ud800")
    async with client_for(app) as client:
        first = await login(client, headers={"DPoP": proof})
        assert first.status_code == 200, first.text
        replay = await login(client, headers={"DPoP": proof})
        assert replay.status_code == 401, replay.text
        assert replay.json()["reason"] == "dpop"
        access = first.json()["access_token"]
        bad_ath = key.proof("GET", "/me", access_token=None, extra={"ath": "\udfff"})
        response = await client.get(
            "/me", headers={"Authorization": f"DPoP {access}", "DPoP": bad_ath}
        )
        assert response.status_code == 401, response.text
        assert "DPoP proof is for another access token" in response.json()["detail"]


# --- the fuzz ------------------------------------------------------------------------
# Each example starts from a request that works (a fresh device-bound session, the
# right content type, body, cookies and CSRF header), then garbles a few of the headers
# or cookies the library reads: the garbled value reaches the code that reads it.

_HEADERS = [
    b"authorization",
    b"cookie",
    b"origin",
    b"sec-fetch-site",
    b"x-csrf-token",
    b"x-device-id",
    b"user-agent",
    b"x-forwarded-for",
    b"dpop",
    b"content-type",
    b"content-length",
    b"host",
]
_ROUTES = [
    "login",
    "refresh-cookie",
    "refresh-json",
    "refresh-form",
    "logout",
    "logout-all",
    "fresh",
    "sessions",
    "revoke-session",
    "me",
    "claims",
    "maybe",
]
_junk = st.one_of(
    st.binary(max_size=40),
    st.text(st.characters(max_codepoint=0xFF), max_size=40).map(lambda t: t.encode("latin-1")),
)
_prefixes = st.sampled_from([b"", b"https://", b"Bearer ", b"DPoP ", b"198.51.100.7, ", b"phone"])


@dataclass
class _Session:
    access: str
    refresh: str
    csrf: str
    sid: str


async def _fresh_session(app: Any) -> _Session:
    async with client_for(app) as client:
        response = await login(client, headers={"X-Device-Id": "phone"})
        assert response.status_code == 200, response.text
        access = response.json()["access_token"]
        sid = jwt.decode(access, options={"verify_signature": False})["sid"]
        return _Session(access, client.cookies["refresh_token"], client.cookies["csrf_token"], sid)


def _base(route: str, s: _Session) -> tuple[str, str, dict[bytes, bytes], bytes]:
    """A request of *route* that the library serves as it is."""
    bearer = {b"authorization": f"Bearer {s.access}".encode(), b"x-device-id": b"phone"}
    cookie = f"refresh_token={s.refresh}; csrf_token={s.csrf}".encode()
    form = {b"content-type": FORM}
    own = {b"origin": b"https://testserver", b"sec-fetch-site": b"same-origin"}
    if route == "login":
        body = urllib.parse.urlencode({"username": "alice@example.com", "password": PASSWORD})
        return "POST", "/auth/login", {**form, **own, b"x-device-id": b"phone"}, body.encode()
    if route == "refresh-cookie":
        headers = {b"cookie": cookie, b"x-csrf-token": s.csrf.encode(), b"x-device-id": b"phone"}
        return "POST", "/auth/refresh", {**headers, **own}, b""
    if route == "refresh-json":
        body = json.dumps({"refresh_token": s.refresh}).encode()
        headers = {b"content-type": b"application/json", b"x-device-id": b"phone"}
        return "POST", "/auth/refresh", headers, body
    if route == "refresh-form":
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": s.refresh})
        return "POST", "/auth/refresh", {**form, b"x-device-id": b"phone"}, body.encode()
    if route == "fresh":
        body = urllib.parse.urlencode({"password": PASSWORD}).encode()
        return "POST", "/auth/fresh", {**bearer, **form, **own}, body
    paths = {
        "logout": ("POST", "/auth/logout"),
        "logout-all": ("POST", "/auth/logout-all"),
        "sessions": ("GET", "/auth/sessions"),
        "revoke-session": ("DELETE", f"/auth/sessions/{s.sid}"),
        "me": ("GET", "/me"),
        "claims": ("GET", "/claims"),
        "maybe": ("GET", "/maybe"),
    }
    method, path = paths[route]
    return method, path, {**bearer, b"cookie": cookie, **own}, b""


@pytest.fixture
def fuzz_app(make_manager: MakeManager, user: User) -> Any:
    """The test app behind a trusted proxy, every limit off (so each example gets far)."""
    manager = make_manager(
        trusted_proxies=["10.0.0.0/8"],
        login_rate_limit="",
        login_account_rate_limit="",
        login_ip_rate_limit="",
        refresh_rate_limit="",
    )
    return make_app(manager)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_fuzzed_headers_and_cookies_never_cause_a_5xx(
    fuzz_app: Any, data: st.DataObject
) -> None:
    """A working request with some header or cookie garbled: some 2xx/4xx, never a 5xx."""
    route = data.draw(st.sampled_from(_ROUTES), label="route")
    method, path, headers, body = _base(route, await _fresh_session(fuzz_app))
    extra: list[tuple[bytes, bytes]] = []
    for name in data.draw(st.lists(st.sampled_from(_HEADERS), min_size=1, max_size=3), "names"):
        value = data.draw(_prefixes) + data.draw(_junk)
        if name == b"cookie" and data.draw(st.booleans()):
            which = data.draw(st.sampled_from([b"refresh_token=", b"csrf_token="]))
            value = headers.get(b"cookie", b"") + b"; " + which + data.draw(_junk)
        if data.draw(st.booleans(), "duplicate"):
            extra.append((name, value))
        else:
            headers[name] = value
    if route == "revoke-session" and data.draw(st.booleans(), "garble the path"):
        path = "/auth/sessions/" + data.draw(
            st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=24)
        )
    sent = [*headers.items(), *extra]
    response = await raw_request(fuzz_app, method, path, sent, Body(chunks=[body]), client=PROXY)
    assert response.status < 500, (method, path, sent, response.body)
    assert b"Traceback" not in response.body
