"""Request and response models of the second-factor routes (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from authmanager.mfa.enrollment import clean_label

__all__ = [
    "CodeBody",
    "FactorBody",
    "LabelBody",
    "MfaRequiredBody",
    "MfaTokenBody",
    "MfaVerifyBody",
    "PasskeyAnswer",
    "RecoveryCodeAnswer",
    "RecoveryCodesBody",
    "TotpAnswer",
    "TotpEnrollmentBody",
]

#: A WebAuthn response or options object (`PublicKeyCredential.toJSON()` and its inputs).
WebAuthnJSON = dict[str, Any]


class MfaRequiredBody(BaseModel):
    """403 of `/login`: the password was right, a second factor must follow.

    `error` is `mfa_required` (RFC 6749 §5.2's shape: an OAuth client sees an error).
    Other 403s of the route (a cross-site request) carry no `mfa_token`.
    """

    detail: str
    error: str = Field(examples=["mfa_required"])
    error_description: str | None = Field(
        default=None, description="One sentence on what failed (RFC 6749 §5.2), ASCII."
    )
    reason: str | None = None
    mfa_token: str | None = Field(
        default=None, description="Single use, short-lived; send it to `/mfa/verify`."
    )
    factors: list[Literal["totp", "passkey", "recovery_code"]] | None = Field(
        default=None, description="What the user can answer with."
    )


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mfa_token: str = Field(min_length=1, max_length=128)
    device_id: str | None = Field(default=None, max_length=128, pattern=r"^[\x20-\x7e]+$")


class TotpAnswer(_Answer):
    """The second step with a TOTP code."""

    code: str = Field(min_length=1, max_length=16, description="A TOTP code (6 digits).")


class RecoveryCodeAnswer(_Answer):
    """The second step with one of the recovery codes."""

    recovery_code: str = Field(min_length=1, max_length=64)


class PasskeyAnswer(_Answer):
    """The second step with a passkey: the assertion for `/mfa/passkey-options`."""

    passkey: WebAuthnJSON = Field(description="`PublicKeyCredential.toJSON()` of the assertion.")


#: The body of `/mfa/verify`: the `mfa_token` and exactly one answer (the schema says so).
MfaVerifyBody = TotpAnswer | RecoveryCodeAnswer | PasskeyAnswer


class MfaTokenBody(BaseModel):
    """An `mfa_token` from the 403 of `/login`."""

    model_config = ConfigDict(extra="forbid")

    mfa_token: str = Field(min_length=1, max_length=128)


class FactorBody(BaseModel):
    """One confirmed second factor of the caller."""

    id: str
    kind: Literal["totp", "passkey"]
    label: str | None
    created_at: datetime
    last_used_at: datetime | None


class TotpEnrollmentBody(BaseModel):
    """A TOTP enrollment waiting for its first code; shown once, never stored in clear."""

    factor_id: str
    secret: str = Field(description="Base32, for typing into an authenticator app.")
    otpauth_uri: str = Field(description="The `otpauth://totp/...` URI apps scan.")
    qr_svg: str = Field(description="The URI as a QR code, a standalone SVG document.")


class LabelBody(BaseModel):
    """A factor's label, up to 100 characters (control characters are dropped); null clears it."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, max_length=100)

    @field_validator("label")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return clean_label(value)


class CodeBody(BaseModel):
    """A code from the authenticator app."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=16)


class RecoveryCodesBody(BaseModel):
    """Recovery codes, shown once: each works once, and new ones replace them all."""

    recovery_codes: list[str]
