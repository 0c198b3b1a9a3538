"""The native exchange: an ID token from a platform sign-in SDK, against the real provider."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, ExpiredTokenError, InvalidTokenError, Reason
from tests.identities.conftest import MakeStack, Stack, providers_for
from tests.identities.support import native_id_token

CLIENT = ClientInfo(ip_address="192.0.2.10", user_agent="ExampleApp/1.0 iOS")


def nonce() -> str:
    return secrets.token_urlsafe(24)


async def test_native_id_token_signs_in(stack: Stack, oidc_issuer: str) -> None:
    """The native client's ID token (aud=native, listed in native_client_ids) signs in."""
    chosen = nonce()
    token = await native_id_token(oidc_issuer, nonce=chosen)
    pair = await stack.service.exchange_id_token("native", token, nonce=chosen, client=CLIENT)
    payload = await stack.manager.verify_token(pair.access_token)
    assert payload["amr"] == ["fed"]
    (identity,) = await stack.links.list_identities(payload.sub)
    assert identity.subject == "alice"
    assert identity.provider == "native"
    await stack.drain()
    assert stack.events.last("login.succeeded").user_agent == CLIENT.user_agent


async def test_native_nonce_works_once(stack: Stack, oidc_issuer: str) -> None:
    """The same ID token and nonce again (a stolen token replayed): refused."""
    chosen = nonce()
    token = await native_id_token(oidc_issuer, nonce=chosen)
    await stack.service.exchange_id_token("native", token, nonce=chosen, client=CLIENT)
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.exchange_id_token("native", token, nonce=chosen, client=CLIENT)
    assert caught.value.reason == Reason.INVALID_NONCE


async def test_native_wrong_nonce(stack: Stack, oidc_issuer: str) -> None:
    token = await native_id_token(oidc_issuer, nonce=nonce())
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.exchange_id_token("native", token, nonce=nonce(), client=CLIENT)
    assert caught.value.reason == Reason.INVALID_NONCE
    assert await stack.links.list_identities("1") == []


async def test_native_wrong_audience(stack: Stack, oidc_issuer: str) -> None:
    """An ID token of the native client, at a provider entry that does not accept it."""
    chosen = nonce()
    token = await native_id_token(oidc_issuer, nonce=chosen)
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.exchange_id_token("test", token, nonce=chosen, client=CLIENT)
    assert caught.value.reason == Reason.WRONG_AUDIENCE
    await stack.drain()
    assert stack.events.last("login.failed").reason == "wrong_audience"


async def test_native_expired_id_token(make_stack: MakeStack, oidc_issuer: str) -> None:
    """The short client's ID tokens live 2 s; presented after that, refused."""
    stack = make_stack(providers=providers_for(oidc_issuer), leeway_seconds=0)
    chosen = nonce()
    token = await native_id_token(
        oidc_issuer,
        nonce=chosen,
        client_id="short",
        client_secret="short-secret",
        redirect_uri="https://app.test/auth/oidc/short/callback",
    )
    await asyncio.sleep(3.1)
    with pytest.raises(ExpiredTokenError) as caught:
        await stack.service.exchange_id_token("short", token, nonce=chosen, client=CLIENT)
    assert caught.value.reason == Reason.EXPIRED


async def test_native_tampered_token(stack: Stack, oidc_issuer: str) -> None:
    chosen = nonce()
    header, payload, signature = (await native_id_token(oidc_issuer, nonce=chosen)).split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.exchange_id_token("native", forged, nonce=chosen, client=CLIENT)
    assert caught.value.reason in {Reason.SIGNATURE, Reason.MALFORMED}


@pytest.mark.parametrize("bad", ["", "short", "x" * 300])
async def test_native_nonce_must_be_a_real_nonce(stack: Stack, bad: str) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.exchange_id_token("native", "a.b.c", nonce=bad, client=CLIENT)
    assert caught.value.reason == Reason.INVALID_NONCE


async def test_plain_oauth2_provider_has_no_native_exchange(stack: Stack) -> None:
    with pytest.raises(AuthError) as caught:
        await stack.service.exchange_id_token("plain", "a.b.c", nonce=nonce(), client=CLIENT)
    assert caught.value.reason == Reason.UNKNOWN_PROVIDER


async def test_native_exchange_is_rate_limited(make_stack: MakeStack, oidc_issuer: str) -> None:
    """AUTH_OIDC_RATE_LIMIT counts exchanges per client IP."""
    from authmanager.exceptions import RateLimitExceededError

    stack = make_stack(providers=providers_for(oidc_issuer), oidc_rate_limit="2/minute")
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            await stack.service.exchange_id_token("native", "a.b.c", nonce=nonce(), client=CLIENT)
    with pytest.raises(RateLimitExceededError):
        await stack.service.exchange_id_token("native", "a.b.c", nonce=nonce(), client=CLIENT)
