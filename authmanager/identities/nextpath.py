"""The `next` check: where a browser may be sent after signing in with a provider."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

__all__ = ["MAX_NEXT_LENGTH", "safe_next_path"]

MAX_NEXT_LENGTH = 2048
#: The raw value: printable ASCII without the space. Whitespace and control characters
#: are dropped or reinterpreted by browsers (`/\t/evil.example` is `//evil.example`).
_PRINTABLE = re.compile(r"[\x21-\x7e]*")
#: Decoded forms may hold spaces and letters of any script; never control, format
#: (zero-width, bidi overrides), unassigned or line/paragraph-separator characters.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DECODE_ROUNDS = 3


def _leaves_site(form: str) -> bool:
    """Whether a form of the path could be read as another site (or is no path)."""
    # NFKC folds look-alikes a later hop may normalise ("\uff0f" is "/").
    for text in {form, unicodedata.normalize("NFKC", form)}:
        if "\\" in text or any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in text):
            return True
        # "//host" is scheme-relative, and "/\host" is the same to browsers.
        if not text.startswith("/") or text.startswith("//"):
            return True
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return True
    return False


def safe_next_path(value: str | None) -> str:
    """Return *value* if it is a same-site relative path, `/` when it is empty.

    Accepted: an absolute path on this site (`/account?tab=2#top`). Refused: absolute
    and scheme-relative URLs (`https://evil`, `//evil`), backslashes (`/\\evil`),
    whitespace and control characters, anything that is not printable ASCII, and each
    of these hidden by percent-encoding, once or several times (`/%2F%2Fevil`,
    `/%5Cevil`, `/%252F%252Fevil`), because a later hop may decode the path again.

    Raises:
        ValueError: *value* could send the browser to another site.
    """
    if not value:
        return "/"
    if len(value) > MAX_NEXT_LENGTH:
        raise ValueError("The next path is too long.")
    if not _PRINTABLE.fullmatch(value):
        raise ValueError("The next path must be a relative path on this site.")
    form = value
    for _ in range(_DECODE_ROUNDS + 1):
        if _leaves_site(form):
            raise ValueError("The next path must be a relative path on this site.")
        try:
            decoded = unquote(form, errors="strict")
        except UnicodeDecodeError:
            raise ValueError("The next path is not valid percent-encoded UTF-8.") from None
        if decoded == form:
            return value
        form = decoded
    raise ValueError("The next path is encoded too many times.")
