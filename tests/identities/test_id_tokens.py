"""ID token validation, one attack per test, through the code flow of a provider whose
tokens the test signs itself; and the key set refetched once on an unknown key id."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlalchemy import func, select

from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, ExpiredTokenError, InvalidTokenError, Reason
from authmanager.identities import FlowResult
from authmanager.identities.tables import identities
from tests.identities.conftest import Fake, MakeStack, Stack
from tests.identities.fake_provider import new_key

CLIENT = ClientInfo(ip_address="198.51.100.9")


@pytest.fixture
def fakes(make_stack: MakeStack, fake: Fake) -> Stack:
    return make_stack(providers=fake.providers(), leeway_seconds=0)


async def complete_with(stack: Stack, fake: Fake, make: Callable[[str], str]) -> FlowResult:
    """Start a flow, have the provider answer the ID token `make(nonce)`, complete it."""
    start = await stack.service.begin("good", client=CLIENT)
    query = parse_qs(urlsplit(start.redirect_url).query)
    fake.state.id_token = make(query["nonce"][0])
    return await stack.service.complete(
        "good",
        code="fake-code",
        state=query["state"][0],
        browser_cookie_value=start.browser_cookie_value,
        client=CLIENT,
    )


async def links(stack: Stack) -> int:
    async with stack.sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(identities))).scalar_one()
        )


async def refused(stack: Stack, fake: Fake, make: Callable[[str], str]) -> InvalidTokenError:
    """Complete with `make(nonce)`: refused, and no identity linked by it."""
    before = await links(stack)
    with pytest.raises(InvalidTokenError) as caught:
        await complete_with(stack, fake, make)
    assert await links(stack) == before
    return caught.value


async def test_valid_token_signs_in(fakes: Stack, fake: Fake) -> None:
    """The control."""
    result = await complete_with(fakes, fake, lambda n: fake.sign(fake.claims(n)))
    assert result.identity.subject == "fake-user"


async def test_wrong_audience(fakes: Stack, fake: Fake) -> None:
    """An ID token issued to another client of the provider."""
    error = await refused(fakes, fake, lambda n: fake.sign(fake.claims(n, aud="other-app")))
    assert error.reason == Reason.WRONG_AUDIENCE


async def test_extra_untrusted_audience(fakes: Stack, fake: Fake) -> None:
    """OIDC Core §3.1.3.7 (3): also naming an audience we do not trust is refused."""
    claims = lambda n: fake.claims(n, aud=["client", "other-app"], azp="client")  # noqa: E731
    error = await refused(fakes, fake, lambda n: fake.sign(claims(n)))
    assert error.reason == Reason.WRONG_AUDIENCE


async def test_azp_of_another_client(fakes: Stack, fake: Fake) -> None:
    error = await refused(fakes, fake, lambda n: fake.sign(fake.claims(n, azp="other-app")))
    assert error.reason == Reason.WRONG_AUDIENCE


async def test_wrong_issuer(fakes: Stack, fake: Fake) -> None:
    issuer = fake.state.issuer("elsewhere")
    error = await refused(fakes, fake, lambda n: fake.sign(fake.claims(n, iss=issuer)))
    assert error.reason == Reason.WRONG_ISSUER


async def test_expired(fakes: Stack, fake: Fake) -> None:
    past = int(time.time()) - 60
    error = await refused(fakes, fake, lambda n: fake.sign(fake.claims(n, iat=past - 60, exp=past)))
    assert isinstance(error, ExpiredTokenError)
    assert error.reason == Reason.EXPIRED


async def test_issued_in_the_future(fakes: Stack, fake: Fake) -> None:
    future = int(time.time()) + 600
    error = await refused(
        fakes, fake, lambda n: fake.sign(fake.claims(n, iat=future, exp=future + 60))
    )
    assert error.reason == Reason.ISSUED_IN_FUTURE


@pytest.mark.parametrize("claim", ["iat", "exp", "sub"])
async def test_missing_required_claim(fakes: Stack, fake: Fake, claim: str) -> None:
    claims: Callable[[str], dict[str, Any]] = lambda n: fake.claims(n, **{claim: None})  # noqa: E731
    error = await refused(fakes, fake, lambda n: fake.sign(claims(n)))
    assert error.reason == Reason.MISSING_CLAIM


async def test_missing_nonce(fakes: Stack, fake: Fake) -> None:
    error = await refused(
        fakes, fake, lambda n: fake.sign({k: v for k, v in fake.claims(n).items() if k != "nonce"})
    )
    assert error.reason == Reason.INVALID_NONCE


async def test_other_nonce(fakes: Stack, fake: Fake) -> None:
    error = await refused(fakes, fake, lambda n: fake.sign(fake.claims("x" * 43)))
    assert error.reason == Reason.INVALID_NONCE


async def test_signature_of_another_key_under_the_same_kid(fakes: Stack, fake: Fake) -> None:
    forger, _ = new_key("key-1")
    error = await refused(fakes, fake, lambda n: fake.sign(fake.claims(n), key=forger))
    assert error.reason == Reason.SIGNATURE


async def test_tampered_payload(fakes: Stack, fake: Fake) -> None:
    def tampered(nonce: str) -> str:
        header, _, signature = fake.sign(fake.claims(nonce)).split(".")
        body = jwt.utils.base64url_encode(
            jwt.api_jws.json.dumps(fake.claims(nonce, sub="admin")).encode()
        ).decode()
        return f"{header}.{body}.{signature}"

    error = await refused(fakes, fake, tampered)
    assert error.reason == Reason.SIGNATURE


async def test_alg_none(fakes: Stack, fake: Fake) -> None:
    """`none` is refused even though the (fake) discovery document offers it."""
    error = await refused(
        fakes, fake, lambda n: jwt.encode(fake.claims(n), None, algorithm="none") + "AAAA"
    )
    assert error.reason == Reason.ALGORITHM


async def test_hs256_signed_with_client_secret(fakes: Stack, fake: Fake) -> None:
    """A MAC with the client secret (anyone holding it could mint identities): refused."""
    error = await refused(
        fakes,
        fake,
        lambda n: jwt.encode(fake.claims(n), "client-secret-is-long-enough-32b!", "HS256"),
    )
    assert error.reason == Reason.ALGORITHM


async def test_key_choosing_header(fakes: Stack, fake: Fake) -> None:
    """A `jku` header (the token naming its own key set) is refused (RFC 8725 §3.10)."""
    error = await refused(
        fakes, fake, lambda n: fake.sign(fake.claims(n), jku="https://evil.example/jwks")
    )
    assert error.reason == Reason.FORBIDDEN_HEADER


async def test_not_a_jwt(fakes: Stack, fake: Fake) -> None:
    error = await refused(fakes, fake, lambda n: "not-a-jwt")
    assert error.reason == Reason.MALFORMED


async def test_rotated_key_is_fetched_once(fakes: Stack, fake: Fake) -> None:
    """The provider rotated its key after we cached the set: one refetch, then it works."""
    await complete_with(fakes, fake, lambda n: fake.sign(fake.claims(n)))
    assert fake.state.jwks_hits == 1
    new, public = new_key("key-2")
    fake.state.jwks = [public]
    # Past the cooldown that stops forged kids from hammering the provider.
    fakes.registry._cache["good"].keys_at -= 60
    result = await complete_with(
        fakes, fake, lambda n: fake.sign(fake.claims(n, sub="u2"), key=new, kid="key-2")
    )
    assert result.identity.subject == "u2"
    assert fake.state.jwks_hits == 2


async def test_unknown_kid_refetches_at_most_once(fakes: Stack, fake: Fake) -> None:
    """Forged kids: one refetch per cooldown, then refused without asking the provider."""
    await complete_with(fakes, fake, lambda n: fake.sign(fake.claims(n)))
    fakes.registry._cache["good"].keys_at -= 60
    error = await refused(fakes, fake, lambda n: fake.sign(fake.claims(n), kid="forged-1"))
    assert error.reason == Reason.UNKNOWN_KEY
    assert fake.state.jwks_hits == 2
    error = await refused(fakes, fake, lambda n: fake.sign(fake.claims(n), kid="forged-2"))
    assert error.reason == Reason.UNKNOWN_KEY
    assert fake.state.jwks_hits == 2


async def test_encryption_keys_never_verify(fakes: Stack, fake: Fake) -> None:
    """A key published with use=enc is ignored; with no signing key the set is garbage."""
    fake.state.jwks = [{**fake.state.jwks[0], "use": "enc"}]
    with pytest.raises(AuthError) as caught:
        await complete_with(fakes, fake, lambda n: fake.sign(fake.claims(n)))
    assert caught.value.reason == Reason.PROVIDER_ERROR


async def test_userinfo_of_another_subject_is_refused(make_stack: MakeStack, fake: Fake) -> None:
    """OIDC Core §5.3.4: a userinfo answer about someone else is a provider error."""
    stack = make_stack(providers=fake.providers())
    with pytest.raises(AuthError) as caught:
        await complete_with(stack, fake, lambda n: fake.sign(fake.claims(n, email=None)))
    assert caught.value.reason == Reason.PROVIDER_ERROR
