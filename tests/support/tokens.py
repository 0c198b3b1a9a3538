"""Tokens taken apart and put together again: unverified claims, forgeries, re-signing.

The attack and event tests play the attacker who edits a real token (and, for the
claim checks, the one who also holds the signing secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt

from authmanager.testing import TEST_SECRET


def claims(token: str) -> dict[str, Any]:
    """The claims of *token*, unverified (tests compare them with the database and events)."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def b64(data: bytes | str) -> str:
    """Unpadded base64url, as in JWS compact form."""
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of *token*, unverified."""
    head, body, _ = token.split(".")
    return json.loads(unb64(head)), json.loads(unb64(body))


def forge(
    claims: dict[str, Any],
    header: dict[str, Any],
    *,
    key: Any = TEST_SECRET,
    algorithm: str = "HS256",
) -> str:
    """Sign *claims* with *algorithm*; the other header members come from *header*."""
    extra = {k: v for k, v in header.items() if k != "alg"}
    return jwt.encode(claims, key, algorithm=algorithm, headers=extra)


def resign(
    token: str, *, drop: tuple[str, ...] = (), secret: str = TEST_SECRET, **changes: Any
) -> str:
    """Re-sign a real token after editing its claims (same header, same algorithm).

    With the real test secret this is the attacker who holds the signing secret (or a
    library bug that lets a claim through): each claim check must still refuse on its
    own. With another *secret* it is a forged signature.
    """
    header, body = parts(token)
    for name in drop:
        body.pop(name, None)
    body.update(changes)
    return forge(body, header, key=secret, algorithm=header["alg"])


def hand_sign(header: dict[str, Any], claims: dict[str, Any], key: bytes | str) -> str:
    """HS256 by hand, for headers or keys PyJWT refuses to produce (empty key, odd kid)."""
    secret = key.encode() if isinstance(key, str) else key
    unsigned = compact({**header, "alg": "HS256"}, claims, "")
    mac = hmac.new(secret, unsigned[:-1].encode(), hashlib.sha256).digest()
    return unsigned + b64(mac)


def compact(header: dict[str, Any] | bytes, claims: dict[str, Any] | bytes, sig: str) -> str:
    """Assemble a token by hand from raw parts."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    c = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    return f"{b64(h)}.{b64(c)}.{sig}"
