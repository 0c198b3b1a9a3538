"""Attacks on the signature and on key selection (RFC 8725 §2.1-2.2, §3.1, §3.10)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from authmanager import AuthManager
from authmanager.testing import TEST_SECRET, CapturingHook
from tests.app import User, make_app
from tests.conftest import MakeManager, bearer, client_for, login
from tests.support.attacks import Victim
from tests.support.events import nothing_reported, rejected
from tests.support.keys import private_pem, public_pem
from tests.support.rows import snapshot
from tests.support.tokens import b64, compact, forge, hand_sign, parts


async def _attack(
    victim: Victim, token: str, manager: AuthManager[User], events: CapturingHook, reason: str
) -> None:
    """Present *token* to /me: 401, the reason reported, the victim unharmed."""
    response = await victim.client.get("/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    await rejected(manager, events, reason)
    await nothing_reported(manager, events)
    await victim.still_works()


async def test_token_signed_with_another_secret_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A well-formed token signed with a guessed secret fails the signature check."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    token = forge(claims, header, key="a-guessed-secret-that-is-long-enough-000000")
    await _attack(victim, token, manager, events, "signature")
    assert await snapshot(session_factory) == before


async def test_stripped_signature_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """The victim's token with its signature removed (`header.payload.`) is refused."""
    before = await snapshot(session_factory)
    head, body, _ = victim.access.split(".")
    await _attack(victim, f"{head}.{body}.", manager, events, "signature")
    assert await snapshot(session_factory) == before


async def test_tampered_payload_is_refused(
    victim: Victim,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
    create_user: Any,
) -> None:
    """Swapping `sub` to another user while keeping the original signature is refused."""
    admin = await create_user("admin@example.com", role="admin")
    before = await snapshot(session_factory)
    head, _, sig = victim.access.split(".")
    _, claims = parts(victim.access)
    claims["sub"] = str(admin.id)
    token = f"{head}.{b64(json.dumps(claims))}.{sig}"
    await _attack(victim, token, manager, events, "signature")
    assert await snapshot(session_factory) == before


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(
    alg: str,
    victim: Victim,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
) -> None:
    """An unsigned token claiming `alg: none` (any casing) is refused (CVE-2015-9235)."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    token = compact({**header, "alg": alg}, claims, "")
    await _attack(victim, token, manager, events, "algorithm")
    assert await snapshot(session_factory) == before


async def test_stronger_hmac_algorithm_than_configured_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A token correctly signed with the real secret but HS512 fails the pinned HS256."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    token = forge(claims, header, algorithm="HS512")
    await _attack(victim, token, manager, events, "algorithm")
    assert await snapshot(session_factory) == before


async def test_unknown_kid_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A correctly signed token whose `kid` names no configured key is refused."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    token = forge(claims, {**header, "kid": "hs-someotherkey0000"})
    await _attack(victim, token, manager, events, "unknown_key")
    assert await snapshot(session_factory) == before


@pytest.mark.parametrize(
    "kid",
    ["../../../../dev/null", "' OR '1'='1", "/etc/passwd", "", "kid\x00"],
    ids=["path", "sql", "abs-path", "empty", "nul"],
)
async def test_injected_kid_is_refused(
    kid: str,
    victim: Victim,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
) -> None:
    """A `kid` crafted for path traversal or SQL injection is only a dictionary miss."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    # The empty string is what HMAC with a key read from /dev/null would use.
    token = hand_sign({**header, "kid": kid}, claims, b"")
    await _attack(victim, token, manager, events, "unknown_key")
    assert await snapshot(session_factory) == before


async def test_non_string_kid_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A `kid` that is an object instead of a string is refused, not looked up."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    token = hand_sign({**header, "kid": {"$ne": None}}, claims, TEST_SECRET)
    await _attack(victim, token, manager, events, "unknown_key")
    assert await snapshot(session_factory) == before


async def test_missing_kid_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A correctly signed token without a `kid` header is refused."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    del header["kid"]
    await _attack(victim, forge(claims, header), manager, events, "unknown_key")
    assert await snapshot(session_factory) == before


@pytest.mark.parametrize("name", ["jku", "x5u"])
async def test_key_url_header_is_refused(
    name: str,
    victim: Victim,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
) -> None:
    """A `jku`/`x5u` header pointing at the attacker's keys is refused, never fetched."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    token = forge(claims, {**header, name: "https://attacker.example/keys.json"})
    await _attack(victim, token, manager, events, "forbidden_header")
    assert await snapshot(session_factory) == before


async def test_crit_header_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A `crit` header asking for an extension the library does not know is refused."""
    before = await snapshot(session_factory)
    header, claims = parts(victim.access)
    token = hand_sign({**header, "crit": ["exp-check"], "exp-check": False}, claims, TEST_SECRET)
    await _attack(victim, token, manager, events, "forbidden_header")
    assert await snapshot(session_factory) == before


# --- against an RS256 manager -------------------------------------------------------


class RsaSetup:
    def __init__(self, manager: AuthManager[User], victim: Victim, pem: str) -> None:
        self.manager = manager
        self.victim = victim
        self.pem = pem


@pytest.fixture
async def rsa_setup(make_manager: MakeManager, user: User) -> AsyncIterator[RsaSetup]:
    """An RS256 manager, its app, and Alice logged in to it."""
    pem = private_pem("RS256")
    auth = make_manager(algorithm="RS256", private_key=pem)
    async with client_for(make_app(auth)) as client:
        response = await login(client)
        assert response.status_code == 200, response.text
        yield RsaSetup(auth, Victim(user, response.json()["access_token"], client), pem)


async def test_hs256_signed_with_rsa_public_key_is_refused(
    rsa_setup: RsaSetup, events: CapturingHook, session_factory: Any
) -> None:
    """Algorithm confusion: HS256 keyed with the published RSA public key PEM is refused."""
    await rsa_setup.manager.drain_events()
    events.clear()
    before = await snapshot(session_factory)
    header, claims = parts(rsa_setup.victim.access)
    public = public_pem(rsa_setup.pem).encode()
    token = compact({**header, "alg": "HS256"}, claims, "")
    signing_input = token.rsplit(".", 1)[0].encode()
    token += b64(hmac.new(public, signing_input, hashlib.sha256).digest())
    await _attack(rsa_setup.victim, token, rsa_setup.manager, events, "algorithm")
    assert await snapshot(session_factory) == before


async def test_embedded_jwk_header_is_refused(
    rsa_setup: RsaSetup, events: CapturingHook, session_factory: Any
) -> None:
    """A token carrying the attacker's own public key in `jwk` (and signed by it) is refused."""
    await rsa_setup.manager.drain_events()
    events.clear()
    before = await snapshot(session_factory)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(attacker.public_key()))
    header, claims = parts(rsa_setup.victim.access)
    token = forge(claims, {**header, "jwk": jwk}, key=attacker, algorithm="RS256")
    await _attack(rsa_setup.victim, token, rsa_setup.manager, events, "forbidden_header")
    assert await snapshot(session_factory) == before


async def test_another_rsa_key_under_the_real_kid_is_refused(
    rsa_setup: RsaSetup, events: CapturingHook, session_factory: Any
) -> None:
    """RS256 signed by another key while naming the real `kid` fails the signature check."""
    await rsa_setup.manager.drain_events()
    events.clear()
    before = await snapshot(session_factory)
    header, claims = parts(rsa_setup.victim.access)
    token = forge(claims, header, key=private_pem("RS256", 1), algorithm="RS256")
    await _attack(rsa_setup.victim, token, rsa_setup.manager, events, "signature")
    assert await snapshot(session_factory) == before


async def test_ecdsa_psychic_signature_is_refused(
    make_manager: MakeManager, user: User, events: CapturingHook, session_factory: Any
) -> None:
    """An ES256 signature of r = s = 0 (CVE-2022-21449, "psychic signatures") is refused."""
    auth = make_manager(algorithm="ES256", private_key=private_pem("ES256"))
    async with client_for(make_app(auth)) as client:
        response = await login(client)
        assert response.status_code == 200
        await auth.drain_events()
        events.clear()
        before = await snapshot(session_factory)
        victim = Victim(user, response.json()["access_token"], client)
        head, body, _ = victim.access.split(".")
        await _attack(victim, f"{head}.{body}.{b64(bytes(64))}", auth, events, "signature")
    assert await snapshot(session_factory) == before


async def test_token_of_other_service_with_same_secret_is_refused(
    make_manager: MakeManager, victim: Victim, manager: AuthManager[User], events: CapturingHook
) -> None:
    """A token of a service sharing the secret but mounted elsewhere is another audience."""
    other = make_manager(route_prefix="/other-auth")
    pair = await other.create_token_pair({"sub": str(victim.user.id)})
    before = await snapshot(other.session_factory)
    response = await victim.client.get("/me", headers=bearer(pair.access_token))
    assert response.status_code == 401
    await rejected(manager, events, "wrong_audience")
    assert await snapshot(other.session_factory) == before
    await victim.still_works()
