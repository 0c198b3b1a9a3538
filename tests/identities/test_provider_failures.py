"""Providers that are down, slow or answer garbage: a clear AuthError, nothing stored."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, Reason
from authmanager.identities.tables import identities, oidc_flows
from tests.identities.conftest import Fake, MakeStack, Stack, free_port
from tests.identities.support import members

CLIENT = ClientInfo(ip_address="198.51.100.4", user_agent="pytest")


@pytest.fixture
def fakes(make_stack: MakeStack, fake: Fake) -> Stack:
    return make_stack(providers=fake.providers(), oidc_timeout_seconds=0.5)


async def rows(stack: Stack, table: object) -> int:
    async with stack.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tenant", "reason"),
    [
        ("slow", Reason.PROVIDER_UNAVAILABLE),
        ("down", Reason.PROVIDER_UNAVAILABLE),
        ("garbage", Reason.PROVIDER_ERROR),
        ("list", Reason.PROVIDER_ERROR),
        ("mismatch", Reason.PROVIDER_ERROR),
    ],
)
async def test_bad_discovery_fails_begin_and_stores_nothing(
    fakes: Stack, tenant: str, reason: Reason
) -> None:
    """Discovery slow (past the timeout), 503, not JSON, or for another issuer."""
    with pytest.raises(AuthError) as caught:
        await fakes.service.begin(tenant, client=CLIENT)
    assert caught.value.reason == reason
    assert await rows(fakes, oidc_flows) == 0


async def test_closed_port_is_unavailable(make_stack: MakeStack) -> None:
    """Nothing listens at the issuer: PROVIDER_UNAVAILABLE."""
    issuer = f"http://127.0.0.1:{free_port()}"
    stack = make_stack(providers={"gone": {"issuer": issuer, "client_id": "c"}})
    with pytest.raises(AuthError) as caught:
        await stack.service.begin("gone", client=CLIENT)
    assert caught.value.reason == Reason.PROVIDER_UNAVAILABLE
    assert "unavailable" in caught.value.message


async def test_discovery_is_cached(fakes: Stack, fake: Fake) -> None:
    """Two flows, one discovery: the second begin works while the first's is cached."""
    await fakes.service.begin("good", client=CLIENT)
    first = fakes.registry.endpoints
    assert (await first("good")) is (await first("good"))


async def begin_and_complete(stack: Stack, provider: str, fake: Fake) -> None:
    start = await stack.service.begin(provider, client=CLIENT)
    query = parse_qs(urlsplit(start.redirect_url).query)
    fake.state.id_token = fake.sign(fake.claims(query["nonce"][0]))
    await stack.service.complete(
        provider,
        code="fake-code",
        state=query["state"][0],
        browser_cookie_value=start.browser_cookie_value,
        client=CLIENT,
    )


@pytest.mark.parametrize(
    ("tenant", "reason"),
    [
        ("tokenslow", Reason.PROVIDER_UNAVAILABLE),
        ("tokendown", Reason.PROVIDER_UNAVAILABLE),
        ("tokengarbage", Reason.PROVIDER_ERROR),
        ("tokenrefused", Reason.PROVIDER_ERROR),
        ("badkeys", Reason.PROVIDER_ERROR),
    ],
)
async def test_bad_token_endpoint_or_keys_fail_complete_and_store_nothing(
    fakes: Stack, fake: Fake, tenant: str, reason: Reason
) -> None:
    """Token endpoint slow, 502, garbage, refusing our client; key set garbage."""
    with pytest.raises(AuthError) as caught:
        await begin_and_complete(fakes, tenant, fake)
    assert caught.value.reason == reason
    assert await rows(fakes, identities) == 0
    async with fakes.sessions() as session:
        assert await members(session) == []
    await fakes.drain()
    assert fakes.events.last("login.failed").reason == str(reason)


async def test_token_answer_without_id_token_is_a_provider_error(fakes: Stack, fake: Fake) -> None:
    fake.state.token_answer = {"access_token": "a", "token_type": "Bearer"}
    with pytest.raises(AuthError) as caught:
        await begin_and_complete(fakes, "good", fake)
    assert caught.value.reason == Reason.PROVIDER_ERROR


async def test_token_answer_without_access_token_is_a_provider_error(
    fakes: Stack, fake: Fake
) -> None:
    fake.state.token_answer = {"token_type": "Bearer"}
    with pytest.raises(AuthError) as caught:
        await begin_and_complete(fakes, "good", fake)
    assert caught.value.reason == Reason.PROVIDER_ERROR


async def test_good_fake_provider_signs_in(fakes: Stack, fake: Fake) -> None:
    """The control: the same path with a proper answer works."""
    await begin_and_complete(fakes, "good", fake)
    assert await rows(fakes, identities) == 1
