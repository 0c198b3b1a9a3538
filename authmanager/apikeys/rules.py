"""What a key's name, scopes and lifetime may be (pure checks, `ValueError` on bad input)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_SCOPES",
    "MAX_SCOPE_LENGTH",
    "TooManyApiKeysError",
    "check_name",
    "check_scopes",
    "check_user_id",
    "expiry",
]

MAX_NAME_LENGTH = 100
MAX_SCOPES = 50
MAX_SCOPE_LENGTH = 64
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): printable ASCII
# without space, `"` and `\`.
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class TooManyApiKeysError(ValueError):
    """The user already holds the most live API keys allowed (`api_keys_max_per_user`).

    Attributes:
        limit: The cap that was reached.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"The user already has {limit} API keys; revoke one first.")
        self.limit = limit


def check_user_id(user_id: str) -> str:
    """Return *user_id*, or raise `ValueError` for one that cannot be a user id."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > 255:
        raise ValueError("user_id must be a non-empty string of at most 255 characters.")
    return user_id


def check_name(name: str) -> str:
    """Return the key's name without surrounding spaces; refuse empty, long or control text."""
    if not isinstance(name, str):
        raise ValueError("The API key's name must be a string.")
    text = name.strip()
    if not text or len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"The API key's name must have 1 to {MAX_NAME_LENGTH} characters.")
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise ValueError("The API key's name must not contain control characters.")
    return text


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Return the scopes, duplicates removed in order; refuse anything RFC 6749 does not allow."""
    if isinstance(scopes, str):
        raise ValueError("scopes must be a list of strings, not one string.")
    given = list(scopes)
    for scope in given:
        if (
            not isinstance(scope, str)
            or len(scope) > MAX_SCOPE_LENGTH
            or not _SCOPE.fullmatch(scope)
        ):
            raise ValueError(
                f"Each scope must be 1 to {MAX_SCOPE_LENGTH} printable ASCII characters "
                "without spaces, quotes or backslashes (RFC 6749 §3.3)."
            )
    unique = tuple(dict.fromkeys(given))
    if len(unique) > MAX_SCOPES:
        raise ValueError(f"An API key may hold at most {MAX_SCOPES} scopes.")
    return unique


def expiry(now: datetime, expires_in: timedelta | None, max_days: int | None) -> datetime | None:
    """Return when a key created at *now* expires, within the configured longest lifetime.

    Without *expires_in* a key gets the longest lifetime (or none, when there is no cap).
    """
    longest = None if max_days is None else timedelta(days=max_days)
    if expires_in is None:
        return None if longest is None else now + longest
    if not isinstance(expires_in, timedelta) or expires_in <= timedelta(0):
        raise ValueError("expires_in must be a positive timedelta.")
    if longest is not None and expires_in > longest:
        raise ValueError(f"An API key may live at most {max_days} days.")
    return now + expires_in
