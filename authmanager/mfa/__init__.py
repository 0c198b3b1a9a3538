"""Second factors: TOTP with recovery codes, and passkeys (WebAuthn).

Importing this package registers its tables on `authmanager.metadata` and needs no
optional extra; TOTP and passkeys import pyotp, segno and py_webauthn (the `mfa` extra)
only when they are configured.
"""

from authmanager.mfa import tables as tables
from authmanager.mfa.service import MfaService
from authmanager.mfa.types import (
    Credential,
    FactorInfo,
    FactorKind,
    MfaChallenge,
    MfaRequiredError,
    SessionStarter,
    SignOutMarks,
    TotpEnrollment,
    UserSource,
)

__all__ = [
    "Credential",
    "FactorInfo",
    "FactorKind",
    "MfaChallenge",
    "MfaRequiredError",
    "MfaService",
    "SessionStarter",
    "SignOutMarks",
    "TotpEnrollment",
    "UserSource",
]
