"""TOTP (RFC 6238) for authenticator apps: secrets, `otpauth://` URIs, QR codes, time steps.

Pure functions, no storage: the service keeps the last accepted step per factor.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
from datetime import datetime

try:
    import pyotp
    import segno
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("TOTP needs pyotp and segno: pip install 'authmanager[mfa]'.") from exc

__all__ = [
    "DIGITS",
    "PERIOD",
    "WINDOW",
    "matching_step",
    "new_secret",
    "provisioning_uri",
    "qr_svg",
]

#: Six digits, 30-second steps and HMAC-SHA1: what every authenticator app supports.
DIGITS = 6
PERIOD = 30
#: Steps accepted on either side of the current one (RFC 6238 §5.2: one for network delay).
WINDOW = 1
#: 160 bits, the HMAC-SHA1 key length that RFC 4226 §4 (R6) recommends.
_SECRET_BYTES = 20


def new_secret() -> str:
    """Return a new random base32 secret (160 bits, from `secrets`)."""
    # 20 bytes are 32 base32 characters: no padding, which some apps mishandle.
    return base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """Return the `otpauth://totp/...` URI that authenticator apps scan."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """Return *uri* as a QR code: a standalone SVG document (segno)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode("utf-8")


def normalise(code: str) -> str | None:
    """Return *code* without spaces when it is six ASCII digits, else None."""
    code = code.replace(" ", "").strip()
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    return code


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """Return the time step within the window whose code is *code*, or None.

    Every candidate is compared in constant time; when several match (a collision of
    one in a million), the latest step wins, so the replay check stays monotonic.
    """
    wanted = normalise(code)
    if wanted is None:
        return None
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    step = int(now.timestamp()) // PERIOD
    found: int | None = None
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if hmac.compare_digest(otp.generate_otp(candidate), wanted):
            found = candidate
    return found
