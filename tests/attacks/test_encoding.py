"""Attacks on the token's encoding (RFC 7515 §2 and §7.1, RFC 8725 §3.7)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from authmanager import AuthManager
from authmanager.testing import TEST_SECRET, CapturingHook
from tests.app import User
from tests.support.attacks import Victim
from tests.support.events import nothing_reported, rejected
from tests.support.rows import snapshot
from tests.support.tokens import b64, parts


def _signed(unsigned: str) -> str:
    """Append a valid HS256 signature (the real test secret) to *unsigned*."""
    mac = hmac.new(TEST_SECRET.encode(), unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64(mac)}"


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


async def _malformed(
    victim: Victim,
    token: str | bytes,
    manager: AuthManager[User],
    events: CapturingHook,
    session_factory: Any,
    reason: str = "malformed",
) -> None:
    """Present *token* to /me: 401, *reason* reported, no DB change, the victim unharmed."""
    before = await snapshot(session_factory)
    value = token if isinstance(token, bytes) else token.encode()
    response = await victim.client.get("/me", headers={"Authorization": b"Bearer " + value})
    assert response.status_code == 401, response.text
    assert "Traceback" not in response.text
    await rejected(manager, events, reason)
    await nothing_reported(manager, events)
    assert await snapshot(session_factory) == before
    await victim.still_works()


async def test_signature_with_padding_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """The victim's token with `=` padding on its signature is a second spelling: refused."""
    await _malformed(victim, victim.access + "=", manager, events, session_factory)


async def test_signature_with_changed_spare_bits_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """Flipping the unused low bits of the signature's last character is refused."""
    head, body, sig = victim.access.split(".")
    assert len(sig) % 4 == 3  # 32 bytes: 43 characters, the last carries 2 spare bits
    index = ALPHABET.index(sig[-1])
    variant = sig[:-1] + ALPHABET[index ^ 0b01]
    assert variant != sig
    await _malformed(victim, f"{head}.{body}.{variant}", manager, events, session_factory)


async def test_signature_in_standard_base64_alphabet_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A signature spelled with `+` and `/` (plain base64) is not base64url: refused."""
    head, body, sig = victim.access.split(".")
    variant = sig.replace("-", "+").replace("_", "/")
    if variant == sig:
        variant = "+" + sig[1:]
    await _malformed(victim, f"{head}.{body}.{variant}", manager, events, session_factory)


async def test_stray_characters_in_signature_are_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """Characters the base64 decoder would silently skip (`!`, `~`) are refused."""
    head, body, sig = victim.access.split(".")
    await _malformed(
        victim, f"{head}.{body}.{sig[:10]}!~{sig[10:]}", manager, events, session_factory
    )


async def test_deeply_nested_header_json_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A header nesting arrays 2500 deep (RecursionError in the parser) is refused."""
    header, claims = parts(victim.access)
    raw = json.dumps(header)[:-1] + ', "x": ' + "[" * 2500 + "]" * 2500 + "}"
    token = f"{b64(raw)}.{b64(json.dumps(claims))}.{b64(b'0' * 32)}"
    assert len(token) < 8192
    await _malformed(victim, token, manager, events, session_factory)


async def test_header_with_invalid_utf8_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A header segment decoding to bytes that are not UTF-8 is refused."""
    _, body, sig = victim.access.split(".")
    bad = b64(b'{"alg":"HS256\xff\xfe"}')
    await _malformed(victim, f"{bad}.{body}.{sig}", manager, events, session_factory)


async def test_claims_with_invalid_utf8_are_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A correctly signed token whose claims are not UTF-8 is refused."""
    header, _ = parts(victim.access)
    bad_claims = b64(b'{"sub": "\xc3\x28"}')
    unsigned = f"{b64(json.dumps(header))}.{bad_claims}"
    await _malformed(victim, _signed(unsigned), manager, events, session_factory)


async def test_non_ascii_junk_in_authorization_header_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """Latin-1 bytes in the bearer token are refused without a server error."""
    await _malformed(victim, victim.access.encode() + b"\xe9\xff", manager, events, session_factory)


async def test_header_that_is_not_an_object_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A header that is a JSON array, correctly signed, is refused."""
    _, claims = parts(victim.access)
    unsigned = f"{b64(json.dumps(['HS256']))}.{b64(json.dumps(claims))}"
    await _malformed(victim, _signed(unsigned), manager, events, session_factory)


async def test_jwe_shaped_token_is_refused(
    victim: Victim, manager: AuthManager[User], events: CapturingHook, session_factory: Any
) -> None:
    """A five-segment (JWE-shaped) token is refused, never decrypted or half-parsed."""
    head, body, sig = victim.access.split(".")
    await _malformed(victim, f"{head}.{body}.{sig}.{sig}.{sig}", manager, events, session_factory)
