"""Settings of second factors: TOTP, recovery codes and passkeys (composed into `AuthSettings`)."""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

__all__ = ["MfaSettings"]


def _split_list(value: object) -> object:
    """Accept a comma-separated string, or a JSON list, for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


#: The origin an Android app's passkey responses carry (its signing certificate's hash).
ANDROID_ORIGIN = "android:apk-key-hash:"


def _origin_error(origin: str, rp_id: str, production: bool) -> str | None:
    """Why *origin* cannot serve passkeys of *rp_id*, or None when it can."""
    if origin.startswith(ANDROID_ORIGIN) and len(origin) > len(ANDROID_ORIGIN):
        return None  # bound to the RP by the site's assetlinks.json, not by its name
    parts = urlsplit(origin)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return f"AUTH_WEBAUTHN_ORIGINS: {origin!r} is not an origin such as https://example.com."
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        return f"AUTH_WEBAUTHN_ORIGINS: {origin!r} must be scheme://host[:port], nothing more."
    if production and parts.scheme != "https":
        return f"AUTH_PRODUCTION is on; the passkey origin {origin!r} must use https."
    host = parts.hostname
    if host != rp_id and not host.endswith("." + rp_id):
        return (
            f"AUTH_WEBAUTHN_ORIGINS: {origin!r} is not on AUTH_WEBAUTHN_RP_ID {rp_id!r} "
            "or one of its subdomains (WebAuthn refuses such a pair)."
        )
    return None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class MfaSettings(BaseSettings):
    """Settings: second factors (TOTP, recovery codes, passkeys)."""

    mfa_totp_enabled: bool = Field(
        default=False,
        validation_alias="AUTH_MFA_TOTP_ENABLED",
        description=(
            "Offer TOTP (authenticator app) enrollment; needs `mfa_encryption_keys` and "
            "the `mfa` extra. Off by default so that upgrading never stops an application "
            "that has no keys."
        ),
    )
    mfa_encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        validation_alias="AUTH_MFA_ENCRYPTION_KEYS",
        description=(
            "Fernet keys that encrypt TOTP secrets at rest, comma-separated: the first "
            "encrypts, every one decrypts (put a new key first to rotate). Make one with "
            "`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        ),
    )
    mfa_totp_issuer: str | None = Field(
        default=None,
        max_length=100,
        validation_alias="AUTH_MFA_TOTP_ISSUER",
        description=(
            "Issuer shown by authenticator apps next to the account; default: "
            "`webauthn_rp_name`, else `authmanager`."
        ),
    )
    mfa_token_expire_minutes: int = Field(
        default=5,
        ge=1,
        le=30,
        validation_alias="AUTH_MFA_TOKEN_EXPIRE_MINUTES",
        description="Lifetime of the `mfa_token` that `/login` gives a user with a second factor.",
    )
    mfa_rate_limit: str = Field(
        default="10/hour",
        validation_alias="AUTH_MFA_RATE_LIMIT",
        description=(
            "Failed second-factor codes allowed per user, over all their `mfa_token`s "
            "(each token also dies after 5); empty: off."
        ),
    )
    webauthn_rp_id: str | None = Field(
        default=None,
        validation_alias="AUTH_WEBAUTHN_RP_ID",
        description=(
            "WebAuthn relying party id: the site's domain (`example.com`); passkeys are "
            "off while unset."
        ),
    )
    webauthn_rp_name: str | None = Field(
        default=None,
        max_length=100,
        validation_alias="AUTH_WEBAUTHN_RP_NAME",
        description="Name of the site shown when a passkey is created; default: the RP id.",
    )
    webauthn_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="AUTH_WEBAUTHN_ORIGINS",
        description=(
            "Origins whose pages may use the passkeys, comma-separated; each on the RP id "
            "or a subdomain (or an Android app's `android:apk-key-hash:...`). "
            "Default: `https://<rp id>`."
        ),
    )
    webauthn_challenge_expire_seconds: int = Field(
        default=300,
        ge=30,
        le=900,
        validation_alias="AUTH_WEBAUTHN_CHALLENGE_EXPIRE_SECONDS",
        description="How long a passkey ceremony's challenge stays usable (single use).",
    )

    webauthn_login_rate_limit: str = Field(
        default="30/minute",
        validation_alias="AUTH_WEBAUTHN_LOGIN_RATE_LIMIT",
        description=(
            "Passwordless passkey sign-ins begun (`/passkeys/login/options`, each storing a "
            "challenge) per client address; empty: off."
        ),
    )

    @field_validator("mfa_encryption_keys", "webauthn_origins", mode="before")
    @classmethod
    def _split_mfa_lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("webauthn_rp_id")
    @classmethod
    def _check_rp_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not value or any(c in value for c in ":/@ ") or value.startswith(".") or _is_ip(value):
            raise ValueError(
                "AUTH_WEBAUTHN_RP_ID must be a bare domain such as example.com "
                "(no scheme, port, path or IP address)."
            )
        return value

    @field_validator("webauthn_origins")
    @classmethod
    def _strip_origins(cls, value: list[str]) -> list[str]:
        return [origin.rstrip("/") for origin in value]

    @model_validator(mode="after")
    def _check_mfa(self) -> Any:
        production = bool(getattr(self, "production", False))
        for position, key in enumerate(self.mfa_encryption_keys, start=1):
            try:
                Fernet(key.get_secret_value())
            except ValueError:
                raise ValueError(
                    f"AUTH_MFA_ENCRYPTION_KEYS: key {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes); make one with Fernet.generate_key()."
                ) from None
        if self.mfa_totp_enabled and not self.mfa_encryption_keys:
            mode = "AUTH_PRODUCTION is on and " if production else ""
            raise ValueError(
                f"{mode}AUTH_MFA_TOTP_ENABLED needs AUTH_MFA_ENCRYPTION_KEYS to encrypt "
                "TOTP secrets; set one or more Fernet keys (Fernet.generate_key())."
            )
        if self.webauthn_rp_id is None:
            if self.webauthn_origins:
                raise ValueError("AUTH_WEBAUTHN_ORIGINS is set; set AUTH_WEBAUTHN_RP_ID too.")
            return self
        for origin in self.effective_webauthn_origins:
            problem = _origin_error(origin, self.webauthn_rp_id, production)
            if problem is not None:
                raise ValueError(problem)
        return self

    @property
    def effective_webauthn_origins(self) -> list[str]:
        """The origins passkey responses may come from: the setting, else `https://<rp id>`."""
        if self.webauthn_origins:
            return list(self.webauthn_origins)
        return [f"https://{self.webauthn_rp_id}"] if self.webauthn_rp_id else []

    @property
    def effective_webauthn_rp_name(self) -> str:
        """The RP name shown by authenticators: the setting, else the RP id."""
        return self.webauthn_rp_name or self.webauthn_rp_id or "authmanager"

    @property
    def effective_totp_issuer(self) -> str:
        """The issuer in `otpauth://` URIs: the setting, else the RP name, else authmanager."""
        return self.mfa_totp_issuer or self.webauthn_rp_name or "authmanager"
