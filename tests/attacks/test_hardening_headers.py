"""Issue 11, item 5: bytes that are not ASCII, in any header or cookie, are never a 5xx.

Starlette decodes header values as latin-1, so any byte reaches the library as some
character. In 0.1 `Origin: https://\\xe9vil.example` on `/login`, or `X-Device-Id:
ph\\xf6ne` with a device-bound token, raised in `hmac.compare_digest` (500); a NUL in a
User-Agent or login name made PostgreSQL fail the request (503). The fuzz test sends
random bytes, latin-1 and invalid UTF-8 included, in every header and cookie the
library reads, straight to the ASGI application (httpx would refuse to send them).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from authmanager import AuthManager
from authmanager._core.models import sessions
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.attacks.conftest import nothing_reported, snapshot
from tests.attacks.hardening import Body, raw_request
from tests.binding.support import DPoPKey
from tests.conftest import PASSWORD, MakeManager, client_for, login

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

_ROUTES = [
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/logout-all"),
    ("POST", "/auth/fresh"),
    ("GET", "/auth/sessions"),
    ("DELETE", "/auth/sessions/x"),
    ("GET", "/me"),
    ("GET", "/claims"),
    ("GET", "/maybe"),
]
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
]
_junk = st.binary(max_size=48)
_latin1 = st.text(st.characters(max_codepoint=0xFF), max_size=48).map(lambda t: t.encode("latin-1"))


@st.composite
def _header_value(draw: st.DrawFn, name: bytes, real: dict[str, str]) -> bytes:
    """Junk, or a real credential with junk around or inside it."""
    value = draw(st.one_of(_junk, _latin1))
    if name == b"authorization" and draw(st.booleans()):
        scheme = draw(st.sampled_from([b"Bearer ", b"DPoP ", b"bearer  ", b""]))
        return scheme + draw(st.sampled_from([real["access"].encode(), value]))
    if name == b"cookie" and draw(st.booleans()):
        refresh = draw(st.sampled_from([real["refresh"].encode(), value]))
        return (
            b"refresh_token="
            + refresh
            + b"; csrf_token="
            + draw(st.sampled_from([real["csrf"].encode(), value]))
        )
    if name == b"x-forwarded-for" and draw(st.booleans()):
        return b"198.51.100.7, " + value
    if name == b"content-type" and draw(st.booleans()):
        return draw(
            st.sampled_from([FORM, b"application/json", b"multipart/form-data; boundary=" + value])
        )
    return value


@st.composite
def _request(
    draw: st.DrawFn, real: dict[str, str]
) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    method, path = draw(st.sampled_from(_ROUTES))
    if path == "/auth/sessions/x":  # the one path parameter the library reads
        path = "/auth/sessions/" + draw(
            st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=24)
        )
    names = draw(st.lists(st.sampled_from(_HEADERS), max_size=6))
    headers = [(name, draw(_header_value(name, real))) for name in names]
    fields = {
        "username": draw(st.sampled_from(["alice@example.com", "user:1", ""])),
        "password": draw(st.sampled_from([PASSWORD, "wrong", ""])),
        "refresh_token": draw(st.sampled_from([real["refresh"], "x"])),
        "device_id": draw(st.text(max_size=8)),
    }
    body = draw(
        st.one_of(
            st.just(urllib.parse.urlencode(fields).encode()),
            _junk,
            st.just(b'{"refresh_token": "' + real["refresh"].encode() + b'"}'),
        )
    )
    return method, path, headers, body


@pytest.fixture
async def fuzz_target(make_manager: MakeManager, user: User) -> tuple[Any, dict[str, str]]:
    """The test app behind a trusted proxy, and a real device-bound session to mix in."""
    manager = make_manager(trusted_proxies=["10.0.0.0/8"], login_rate_limit="")
    app = make_app(manager)
    async with client_for(app) as client:
        response = await login(client, headers={"X-Device-Id": "phone"})
        assert response.status_code == 200, response.text
        real = {
            "access": response.json()["access_token"],
            "refresh": client.cookies["refresh_token"],
            "csrf": client.cookies["csrf_token"],
        }
    return app, real


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_fuzzed_headers_and_cookies_never_cause_a_5xx(
    fuzz_target: tuple[Any, dict[str, str]], data: st.DataObject
) -> None:
    """Random bytes in every header and cookie the library reads: some 2xx/4xx, never 5xx."""
    app, real = fuzz_target
    method, path, headers, body = data.draw(_request(real))
    response = await raw_request(app, method, path, headers, Body(chunks=[body]), client=PROXY)
    assert response.status < 500, (method, path, headers, response.body)
    assert b"Traceback" not in response.body
