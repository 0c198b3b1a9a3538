"""The key format: random body, checksum, prefix; pure code, no database."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from authmanager.apikeys.keyformat import (
    ALPHABET,
    BODY_LENGTH,
    CHECKSUM_LENGTH,
    VISIBLE_LENGTH,
    KeyFormat,
    checksum,
)
from authmanager.exceptions import InvalidTokenError, Reason

FORMAT = KeyFormat("am")
bodies = st.text(alphabet=ALPHABET, min_size=BODY_LENGTH, max_size=BODY_LENGTH)


def key_of(body: str, prefix: str = "am") -> str:
    return f"{prefix}_{body}{checksum(body)}"


def test_generated_key_has_prefix_body_and_checksum() -> None:
    """A new key is `am_` + 32 base62 characters + their 6-character CRC32, and checks."""
    key = FORMAT.generate()
    assert key.startswith("am_")
    assert len(key) == 3 + BODY_LENGTH + CHECKSUM_LENGTH == FORMAT.length
    body = key[3 : 3 + BODY_LENGTH]
    assert set(key[3:]) <= set(ALPHABET)
    assert key.endswith(checksum(body))
    FORMAT.check(key)


def test_key_carries_at_least_160_random_bits_beyond_its_visible_part() -> None:
    """The hidden part of the body alone holds more than 160 bits (the stored prefix leaks 4)."""
    hidden = BODY_LENGTH - VISIBLE_LENGTH
    assert hidden * math.log2(len(ALPHABET)) >= 160
    assert len(set(ALPHABET)) == 62


def test_generated_keys_differ() -> None:
    """A thousand keys are a thousand distinct values with distinct digests."""
    keys = {FORMAT.generate() for _ in range(1000)}
    assert len(keys) == 1000
    assert len({FORMAT.digest(k) for k in keys}) == 1000


@given(bodies)
def test_any_body_with_its_checksum_is_accepted(body: str) -> None:
    """Format and checksum agree for every possible body."""
    FORMAT.check(key_of(body))


@given(bodies, st.integers(0, BODY_LENGTH + CHECKSUM_LENGTH - 1), st.sampled_from(ALPHABET))
def test_one_changed_character_is_refused_by_the_checksum(body: str, at: int, char: str) -> None:
    """A single-character typo anywhere after the prefix never passes (CRC32 catches it)."""
    key = key_of(body)
    position = 3 + at
    if key[position] == char:
        return
    typo = key[:position] + char + key[position + 1 :]
    with pytest.raises(InvalidTokenError) as info:
        FORMAT.check(typo)
    assert info.value.reason == Reason.API_KEY_CHECKSUM


@given(bodies, st.integers(0, BODY_LENGTH - 2))
def test_two_swapped_neighbours_are_refused_by_the_checksum(body: str, at: int) -> None:
    """Swapping two adjacent, different characters of the body is caught."""
    if body[at] == body[at + 1]:
        return
    swapped = body[:at] + body[at + 1] + body[at] + body[at + 2 :]
    with pytest.raises(InvalidTokenError) as info:
        FORMAT.check(f"am_{swapped}{checksum(body)}")
    assert info.value.reason == Reason.API_KEY_CHECKSUM


@given(bodies, st.integers(1, BODY_LENGTH + CHECKSUM_LENGTH))
def test_truncated_key_is_malformed(body: str, cut: int) -> None:
    """A key missing its last characters is refused as not a key."""
    with pytest.raises(InvalidTokenError) as info:
        FORMAT.check(key_of(body)[:-cut])
    assert info.value.reason == Reason.API_KEY_MALFORMED


@given(st.text(max_size=80))
def test_arbitrary_text_is_refused_as_malformed(value: str) -> None:
    """Any text not shaped like a key is refused as malformed (and nothing else is raised)."""
    shaped = value.startswith("am_") and len(value) == FORMAT.length
    assume(not (shaped and set(value[3:]) <= set(ALPHABET)))
    with pytest.raises(InvalidTokenError) as info:
        FORMAT.check(value)
    assert info.value.reason == Reason.API_KEY_MALFORMED


@pytest.mark.parametrize(
    "value",
    [
        "",
        "am_",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",  # a JWT
        "xx_" + "A" * (BODY_LENGTH + CHECKSUM_LENGTH),  # another prefix
        "AM_" + "A" * (BODY_LENGTH + CHECKSUM_LENGTH),  # prefixes are case-sensitive
        "am_" + "A" * (BODY_LENGTH + CHECKSUM_LENGTH - 1) + "-",  # outside base62
        "am_" + "é" * (BODY_LENGTH + CHECKSUM_LENGTH),  # non-ASCII
        "am_" + "A" * 10_000,  # oversized
    ],
    ids=["empty", "prefix-only", "jwt", "other-prefix", "uppercase", "symbol", "unicode", "huge"],
)
def test_non_keys_are_malformed(value: str) -> None:
    """Values that are not keys of this prefix are refused before any checksum or query."""
    with pytest.raises(InvalidTokenError) as info:
        FORMAT.check(value)
    assert info.value.reason == Reason.API_KEY_MALFORMED
    assert value not in str(info.value) or not value


def test_key_of_another_prefix_is_refused() -> None:
    """A valid key of one prefix is not a key of another."""
    other = KeyFormat("acme")
    with pytest.raises(InvalidTokenError):
        FORMAT.check(other.generate())
    assert other.looks_like(other.generate())
    assert not FORMAT.looks_like(other.generate())


def test_looks_like_tells_keys_from_jwts_by_prefix() -> None:
    """A bearer value is routed as a key only when it starts with the prefix and `_`."""
    assert FORMAT.looks_like(FORMAT.generate())
    assert not FORMAT.looks_like("eyJhbGciOiJIUzI1NiJ9.e30.sig")
    assert not FORMAT.looks_like("am")


@pytest.mark.parametrize("prefix", ["", "Am", "a_b", "a-b", "ä"])
def test_bad_prefix_is_refused(prefix: str) -> None:
    """A prefix must be lowercase ASCII letters and digits (it never looks like a JWT)."""
    with pytest.raises(ValueError, match="lowercase"):
        KeyFormat(prefix)


def test_digest_is_sha256_hex_and_visible_part_is_short() -> None:
    """The stored hash is 64 hex digits; the visible prefix is `am_` and four characters."""
    key = FORMAT.generate()
    digest = FORMAT.digest(key)
    assert len(digest) == 64
    assert set(digest) <= set(string.hexdigits.lower())
    assert FORMAT.digest(key) == digest
    assert FORMAT.visible(key) == key[:7]


@given(st.integers(0, 2**32 - 1))
def test_checksum_width_holds_every_crc32(value: int) -> None:
    """Six base62 characters encode every 32-bit value, zero-padded, without loss."""
    from authmanager.apikeys.keyformat import _base62

    text = _base62(value, CHECKSUM_LENGTH)
    assert len(text) == CHECKSUM_LENGTH
    assert sum(ALPHABET.index(c) * 62**i for i, c in enumerate(reversed(text))) == value
