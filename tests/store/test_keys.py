"""Keys: every algorithm, key files, rotation, the JWKS route, and isolation between managers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest

from authmanager import AuthManager, InvalidTokenError
from authmanager.testing import TEST_SECRET, CapturingHook
from tests.app import User, make_app
from tests.conftest import MakeManager, client_for
from tests.support.keys import ASYMMETRIC, private_pem, public_pem

# Private reads (ruff SLF001 is ignored for tests): an HS* manager publishes no key id,
# so `_keys` is the only view of which key signs; `_codec.default_audience` is the audience
# derived from the key when the settings name none, which a resource service must be told.
REFUSALS = {"wrong_audience", "unknown_key", "wrong_issuer", "missing_claim"}
OTHER_SECRET = "another-secret-for-the-rotation-tests-0123456789abcdef0123456789"


def _key_settings(algorithm: str, index: int = 0) -> dict[str, Any]:
    if algorithm.startswith("HS"):
        return {"algorithm": algorithm, "secret_key": TEST_SECRET if index == 0 else OTHER_SECRET}
    return {"algorithm": algorithm, "private_key": private_pem(algorithm, index)}


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512", *ASYMMETRIC])
async def test_each_algorithm_signs_and_verifies(
    algorithm: str, make_manager: MakeManager, user: User
) -> None:
    """Each supported algorithm issues tokens with its `alg` and a `kid`, and verifies them."""
    auth = make_manager(**_key_settings(algorithm))
    pair = await auth.create_token_pair({"sub": str(user.id)})
    for token, kind in ((pair.access_token, "access"), (pair.refresh_token, "refresh")):
        header = jwt.get_unverified_header(token)
        assert header["alg"] == algorithm
        assert header["kid"] == auth._keys.current.kid
        assert (await auth.verify_token(token, token_type=kind)).sub == str(user.id)


async def test_private_key_file_is_read(
    make_manager: MakeManager, user: User, tmp_path: Path
) -> None:
    """`private_key_file` loads the PEM from disk and signs with it."""
    path = tmp_path / "jwt.pem"
    path.write_text(private_pem("ES256"))
    auth = make_manager(algorithm="ES256", private_key_file=path)
    pair = await auth.create_token_pair({"sub": str(user.id)})
    assert (await auth.verify_token(pair.access_token)).sub == str(user.id)


@pytest.mark.parametrize("algorithm", ["HS256", *ASYMMETRIC])
async def test_rotation_keeps_old_tokens_valid_and_signs_with_new_key(
    algorithm: str, make_manager: MakeManager, user: User, events: CapturingHook
) -> None:
    """After rotation, tokens of the old key still verify, and only the new key signs."""
    old = make_manager(**_key_settings(algorithm, 0))
    old_material = (
        TEST_SECRET if algorithm.startswith("HS") else public_pem(private_pem(algorithm, 0))
    )
    new = make_manager(**_key_settings(algorithm, 1), previous_keys=[old_material])
    old_pair = await old.create_token_pair({"sub": str(user.id)})
    assert (await new.verify_token(old_pair.access_token)).sub == str(user.id)
    rotated = await new.refresh(old_pair.refresh_token)
    assert jwt.get_unverified_header(rotated.access_token)["kid"] == new._keys.current.kid
    assert new._keys.current.kid != old._keys.current.kid
    assert new._keys.kids == (new._keys.current.kid, old._keys.current.kid)
    with pytest.raises(InvalidTokenError) as refused:
        await old.verify_token(rotated.access_token)
    assert refused.value.reason == "unknown_key"


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
async def test_jwks_route_lists_current_and_previous_public_keys(
    algorithm: str, make_manager: MakeManager
) -> None:
    """GET /.well-known/jwks.json is an RFC 7517 set of public keys only, current first."""
    previous = public_pem(private_pem(algorithm, 0))
    auth = make_manager(**_key_settings(algorithm, 1), previous_keys=[previous])
    async with client_for(make_app(auth)) as client:
        response = await client.get("/auth/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    older = make_manager(**_key_settings(algorithm, 0))
    signed_now = await auth.create_access_token({"sub": "1"})
    signed_before = await older.create_access_token({"sub": "1"})
    assert [k["kid"] for k in keys] == [
        jwt.get_unverified_header(signed_now)["kid"],
        jwt.get_unverified_header(signed_before)["kid"],
    ]
    expected_kty = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}[algorithm]
    for key in keys:
        assert key["alg"] == algorithm
        assert key["use"] == "sig"
        assert key["kty"] == expected_kty
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)
    assert len(jwt.PyJWKSet.from_dict(response.json()).keys) == 2


async def test_jwks_route_is_absent_for_hmac(manager: AuthManager[User]) -> None:
    """With a shared secret there is nothing public to publish: no JWKS route, empty set."""
    async with client_for(make_app(manager)) as client:
        response = await client.get("/auth/.well-known/jwks.json")
    assert response.status_code == 404
    assert manager.jwks == {"keys": []}


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
async def test_resource_service_verifies_with_the_published_jwks(
    algorithm: str, make_manager: MakeManager, user: User
) -> None:
    """Another service verifies a token with only the JWKS document, as documented."""
    auth = make_manager(**_key_settings(algorithm))
    async with client_for(make_app(auth)) as client:
        jwks = (await client.get("/auth/.well-known/jwks.json")).json()
    pair = await auth.create_token_pair({"sub": str(user.id), "role": "editor"})

    # What the resource service does: it has the JWKS and the audience, no secret.
    key_set = jwt.PyJWKSet.from_dict(jwks)
    header = jwt.get_unverified_header(pair.access_token)
    signing_key = next(k for k in key_set.keys if k.key_id == header["kid"])
    claims = jwt.decode(
        pair.access_token,
        signing_key.key,
        algorithms=[algorithm],
        audience=auth._codec.default_audience,
        options={"require": ["exp", "iat", "sub", "aud"]},
    )
    assert claims["sub"] == str(user.id)
    assert claims["role"] == "editor"
    head, body, _ = pair.access_token.split(".")
    other = await auth.create_token_pair({"sub": "someone-else"})
    forged = f"{head}.{body}.{other.access_token.rsplit('.', 1)[1]}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, signing_key.key, algorithms=[algorithm], audience=claims["aud"])


@pytest.mark.parametrize(
    "other",
    [
        {"audience": "https://api.other.example"},
        {"secret_key": OTHER_SECRET},
        {"route_prefix": "/admin-auth"},
        {"issuer": "https://issuer.other.example"},
    ],
    ids=["audience", "key", "route-prefix", "issuer"],
)
async def test_managers_with_different_settings_refuse_each_others_tokens(
    other: dict[str, Any], make_manager: MakeManager, user: User
) -> None:
    """Two managers on one database that differ in one setting never accept each other."""
    first = make_manager()
    second = make_manager(**other)
    pair_first = await first.create_token_pair({"sub": str(user.id)})
    pair_second = await second.create_token_pair({"sub": str(user.id)})
    assert (await first.verify_token(pair_first.access_token)).sub == str(user.id)
    for auth, token in ((second, pair_first.access_token), (first, pair_second.access_token)):
        with pytest.raises(InvalidTokenError) as refused:
            await auth.verify_token(token)
        assert refused.value.reason in {
            "wrong_audience",
            "unknown_key",
            "wrong_issuer",
            "missing_claim",
        }
    with pytest.raises(InvalidTokenError):
        await second.refresh(pair_first.refresh_token)
