"""Text from the wire: constant-time comparison and cleaning of header values.

Header values reach the library as `str` decoded from latin-1 (any byte is possible),
form fields and JSON as any Unicode, lone surrogates included. `hmac.compare_digest`
refuses `str` with non-ASCII characters (a `TypeError`, then a 500), and PostgreSQL
refuses a NUL in text: every comparison and every stored value goes through here.
"""

from __future__ import annotations

import hmac
import unicodedata

__all__ = ["clean", "has_control", "same"]

# Cc: C0 and C1 controls and DEL; Cs: lone surrogates (from JSON `"\ud800"`).
_UNSAFE = frozenset({"Cc", "Cs"})


def _raw(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def same(a: str, b: str) -> bool:
    """Return whether *a* and *b* are equal, in time independent of where they differ."""
    return hmac.compare_digest(_raw(a), _raw(b))


def has_control(value: str) -> bool:
    """Return whether *value* holds a control character or a lone surrogate."""
    return any(unicodedata.category(ch) in _UNSAFE for ch in value)


def clean(value: str | None, size: int) -> str | None:
    """Return *value* without control characters or lone surrogates, cut to *size*; None if empty.

    For values that are recorded or compared but never trusted (User-Agent, device id).
    """
    if not value:
        return None
    if has_control(value):
        value = "".join(ch for ch in value if unicodedata.category(ch) not in _UNSAFE)
    value = value.strip()[:size]
    return value or None
