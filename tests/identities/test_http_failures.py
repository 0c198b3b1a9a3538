"""A provider down, slow or answering garbage, and forged ID tokens, over HTTP.

The misbehaving provider is `fake_provider.py` (a real HTTP server on loopback). Each
failure is a clear 502/503 (503 with `Retry-After`) or 400, a page for a browser, and
nothing is stored: never a 500.
"""

from __future__ import annotations

import time

import pytest

from tests.identities.conftest import Fake, MakeWeb, free_port
from tests.identities.web import HTML, JSON, Web, query_of

NOTHING = {"identities": 0, "flows": 0, "replays": 0, "members": 0}


@pytest.fixture
def fakes(make_web: MakeWeb, fake: Fake) -> Web:
    """The app on the fake provider's tenants; provider calls time out after 0.5 s."""
    return make_web(providers=fake.providers(), oidc_timeout_seconds=0.5)


@pytest.mark.parametrize(
    ("tenant", "status", "reason"),
    [
        ("slow", 503, "provider_unavailable"),
        ("down", 503, "provider_unavailable"),
        ("garbage", 502, "provider_error"),
        ("list", 502, "provider_error"),
        ("mismatch", 502, "provider_error"),
    ],
)
async def test_bad_discovery_answers_a_page_and_stores_nothing(
    fakes: Web, tenant: str, status: int, reason: str
) -> None:
    started = time.monotonic()
    page = await fakes.authorize(tenant)
    data = await fakes.client.get(f"/auth/oidc/{tenant}/authorize", headers=JSON)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert reason in page.text
    assert data.json()["reason"] == reason
    assert time.monotonic() - started < 5  # the 0.5 s timeout, twice, not the provider's 3 s
    assert "set-cookie" not in page.headers
    assert await fakes.stored() == NOTHING
    if status == 503:
        assert page.headers["retry-after"] == "30"


async def test_closed_port_is_503(make_web: MakeWeb) -> None:
    web = make_web(
        providers={"gone": {"issuer": f"http://127.0.0.1:{free_port()}", "client_id": "c"}}
    )
    answer = await web.authorize("gone")
    assert answer.status_code == 503
    assert "The identity provider is unavailable; try again later." in answer.text
    assert await web.stored() == NOTHING


async def start(web: Web, tenant: str) -> tuple[str, str]:
    """Begin a flow at *tenant*; return its state and nonce (the provider is not visited)."""
    answer = await web.authorize(tenant)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    return query["state"], query["nonce"]


async def callback(web: Web, tenant: str, state: str, **headers: str) -> object:
    return await web.client.get(
        f"/auth/oidc/{tenant}/callback",
        params={"code": "a-code", "state": state},
        headers=headers or JSON,
    )


@pytest.mark.parametrize(
    ("tenant", "status", "reason"),
    [
        ("tokenslow", 503, "provider_unavailable"),
        ("tokendown", 503, "provider_unavailable"),
        ("tokengarbage", 502, "provider_error"),
        ("tokenrefused", 502, "provider_error"),
    ],
)
async def test_bad_token_endpoint_fails_the_callback_and_stores_nothing(
    fakes: Web, tenant: str, status: int, reason: str
) -> None:
    state, _ = await start(fakes, tenant)
    answer = await callback(fakes, tenant, state)
    assert answer.status_code == status  # type: ignore[attr-defined]
    assert answer.json()["reason"] == reason  # type: ignore[attr-defined]
    assert await fakes.stored() == NOTHING  # the flow is spent, nothing else written


async def test_forged_callback_answers_are_pages_never_500(fakes: Web, fake: Fake) -> None:
    """An ID token that is not JSON Web Signature at all: 400 page."""
    state, _ = await start(fakes, "good")
    fake.state.id_token = "not-a-jwt"
    answer = await callback(fakes, "good", state, **HTML)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "malformed" in answer.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "someone-else"}, "wrong_audience"),
        ({"aud": ["client", "someone-else"], "azp": "client"}, "wrong_audience"),
        ({"azp": "someone-else"}, "wrong_audience"),
        ({"iss": "https://evil.example"}, "wrong_issuer"),
        ({"exp": -120, "iat": -600}, "expired"),  # seconds from now, when the test runs
        ({"iat": 600, "exp": 900}, "issued_in_future"),
        ({"other_nonce": True}, "invalid_nonce"),
        ({"sub": None}, "missing_claim"),
    ],
)
async def test_forged_id_tokens_at_the_callback_are_400(
    fakes: Web, fake: Fake, overrides: dict[str, object], reason: str
) -> None:
    """The provider's token answer carries an ID token that fails one check each."""
    state, nonce = await start(fakes, "good")
    overrides = dict(overrides)  # the parameter is shared by the database variants
    now = int(time.time())  # not at collection: a long run would turn "future" into past
    for claim in ("iat", "exp"):
        if claim in overrides:
            overrides[claim] = now + int(str(overrides[claim]))
    if overrides.pop("other_nonce", False):
        nonce = "another-nonce"
    fake.state.id_token = fake.sign(fake.claims(nonce, **overrides))
    answer = await callback(fakes, "good", state)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert answer.json()["reason"] == reason  # type: ignore[attr-defined]
    assert answer.json()["error"] == "invalid_grant"  # type: ignore[attr-defined]
    assert await fakes.stored() == NOTHING


async def test_id_token_signed_by_another_key_is_400(fakes: Web, fake: Fake) -> None:
    from tests.identities.fake_provider import new_key

    state, nonce = await start(fakes, "good")
    other, _ = new_key("key-1")
    fake.state.id_token = fake.sign(fake.claims(nonce), key=other)
    answer = await callback(fakes, "good", state)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert answer.json()["reason"] == "signature"  # type: ignore[attr-defined]
    assert await fakes.stored() == NOTHING


async def test_good_fake_provider_signs_in_over_http(fakes: Web, fake: Fake) -> None:
    """The same route with a valid ID token: 303 and a session (the tests above are real)."""
    state, nonce = await start(fakes, "good")
    fake.state.id_token = fake.sign(fake.claims(nonce))
    answer = await callback(fakes, "good", state)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert (await fakes.stored())["identities"] == 1


async def test_native_exchange_with_provider_down_is_503(fakes: Web, fake: Fake) -> None:
    nonce = "n" * 24
    answer = await fakes.client.post(
        "/auth/oidc/down/token", json={"id_token": fake.sign(fake.claims(nonce)), "nonce": nonce}
    )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"
    assert answer.json()["reason"] == "provider_unavailable"
