"""The API key format: `{prefix}_` + 32 random base62 characters + a 6-character checksum.

The shape follows GitHub's tokens: a fixed, greppable prefix lets secret scanners find
leaked keys, and a CRC32 checksum of the random part lets a scanner (and this library)
refuse a typo or a truncated key without asking the database. Pure code: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

from authmanager.exceptions import InvalidTokenError, Reason

__all__ = ["ALPHABET", "BODY_LENGTH", "CHECKSUM_LENGTH", "VISIBLE_LENGTH", "KeyFormat", "checksum"]

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: 32 base62 characters: 190 random bits.
BODY_LENGTH = 32
#: CRC32 (32 bits) fits in 6 base62 characters (62**6 > 2**32).
CHECKSUM_LENGTH = 6
#: Characters of the body kept in the clear as the key's visible prefix; the 28 others
#: still hold 166 random bits, so knowing the visible part never makes a key guessable.
VISIBLE_LENGTH = 4

_BASE = len(ALPHABET)
_CHARS = frozenset(ALPHABET)


def _base62(number: int, width: int) -> str:
    """Return *number* in base62, left-padded with zeros to *width* characters."""
    digits = []
    while number:
        number, rest = divmod(number, _BASE)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, ALPHABET[0])


def checksum(body: str) -> str:
    """Return the 6-character base62 CRC32 of a key's random *body*."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


class KeyFormat:
    """Make, check and hash API keys of one prefix.

    Args:
        prefix: The configured `api_key_prefix` (lowercase letters and digits), so a
            key never begins like a JWT (`eyJ`).
    """

    def __init__(self, prefix: str) -> None:
        if not prefix or not prefix.isascii() or not prefix.isalnum() or not prefix.islower():
            raise ValueError("The API key prefix must be lowercase letters and digits.")
        self.prefix = prefix
        self._start = f"{prefix}_"
        self.length = len(self._start) + BODY_LENGTH + CHECKSUM_LENGTH

    def generate(self) -> str:
        """Return a new key: random from `secrets`, with its checksum."""
        body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
        return f"{self._start}{body}{checksum(body)}"

    def looks_like(self, value: str) -> bool:
        """Return whether *value* claims to be a key of this format (by its prefix only).

        A cheap test for a transport that accepts an access token or a key in one
        header: a JWT never starts with a lowercase prefix and an underscore.
        """
        return value.startswith(self._start)

    def check(self, key: str) -> None:
        """Check the key's shape and checksum; no database is involved.

        Raises:
            InvalidTokenError: not a key of this format (`api_key_malformed`), or its
                checksum does not match (`api_key_checksum`: a typo or a truncation).
        """
        if len(key) != self.length or not key.startswith(self._start):
            raise InvalidTokenError("The value is not an API key.", reason=Reason.API_KEY_MALFORMED)
        rest = key[len(self._start) :]
        if not _CHARS.issuperset(rest):
            raise InvalidTokenError("The value is not an API key.", reason=Reason.API_KEY_MALFORMED)
        body, given = rest[:BODY_LENGTH], rest[BODY_LENGTH:]
        if not hmac.compare_digest(checksum(body), given):
            raise InvalidTokenError(
                "The API key's checksum does not match; check it was copied whole.",
                reason=Reason.API_KEY_CHECKSUM,
            )

    @staticmethod
    def digest(key: str) -> str:
        """Return the stored form of *key*: its SHA-256, in hex.

        A fast hash is enough: the key holds 190 random bits, so no dictionary or
        brute-force attack on a leaked table is possible (unlike a password).
        """
        return hashlib.sha256(key.encode("ascii")).hexdigest()

    def visible(self, key: str) -> str:
        """Return the part of *key* shown in lists: the prefix and 4 characters."""
        return key[: len(self._start) + VISIBLE_LENGTH]
