"""Helpers of the hook tests: read token claims, re-sign a token with changed claims."""

from __future__ import annotations

from typing import Any

import jwt

from authmanager.testing import TEST_SECRET

AGENT = "hooks-test/1.0"
HEADERS = {"User-Agent": AGENT}


def claims(token: str) -> dict[str, Any]:
    """The claims of *token*, unverified (tests compare them with event fields)."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def resign(token: str, secret: str = TEST_SECRET, **changes: Any) -> str:
    """Return *token* with *changes* applied to its claims, signed again with *secret*."""
    header = jwt.get_unverified_header(token)
    return jwt.encode({**claims(token), **changes}, secret, algorithm=header["alg"], headers=header)
