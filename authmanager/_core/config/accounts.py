"""Settings of one capability (composed into `AuthSettings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

__all__ = ["TOKEN_PLACEHOLDER", "AccountSettings"]

#: What each link template must contain; the token replaces it.
TOKEN_PLACEHOLDER = "{token}"

_FRAGMENT_NOTE = (
    " `{token}` is replaced by the token; keep it in the fragment (after `#`), which "
    "browsers never send to a server or in a Referer."
)


class AccountSettings(BaseSettings):
    """Settings: account flows."""

    require_verified_email: bool = Field(
        default=False,
        validation_alias="AUTH_REQUIRE_VERIFIED_EMAIL",
        description=(
            "Refuse `/login` (403 `email_not_verified`) until the user's email is verified."
        ),
    )
    password_min_length: int = Field(
        default=8,
        ge=1,
        le=1024,
        validation_alias="AUTH_PASSWORD_MIN_LENGTH",
        description="Shortest password (in characters) accepted at registration and reset.",
    )
    account_rate_limit: str = Field(
        default="5/15 minutes",
        validation_alias="AUTH_ACCOUNT_RATE_LIMIT",
        description=(
            "Account requests that send mail allowed per client IP and, separately, per "
            "address (and failed token confirmations per IP); empty: off."
        ),
    )
    verify_email_url: str = Field(
        default="http://localhost:8000/verify-email#token={token}",
        validation_alias="AUTH_VERIFY_EMAIL_URL",
        description="Link template of `verify_email` messages." + _FRAGMENT_NOTE,
    )
    reset_password_url: str = Field(
        default="http://localhost:8000/reset-password#token={token}",
        validation_alias="AUTH_RESET_PASSWORD_URL",
        description="Link template of `reset_password` messages." + _FRAGMENT_NOTE,
    )
    change_email_url: str = Field(
        default="http://localhost:8000/confirm-email#token={token}",
        validation_alias="AUTH_CHANGE_EMAIL_URL",
        description="Link template of `change_email` messages." + _FRAGMENT_NOTE,
    )
    login_link_url: str = Field(
        default="http://localhost:8000/login-link#token={token}",
        validation_alias="AUTH_LOGIN_LINK_URL",
        description="Link template of `login_link` messages." + _FRAGMENT_NOTE,
    )
    verify_email_expire_minutes: int = Field(
        default=24 * 60,
        gt=0,
        validation_alias="AUTH_VERIFY_EMAIL_EXPIRE_MINUTES",
        description="Lifetime of an email verification token, in minutes.",
    )
    reset_password_expire_minutes: int = Field(
        default=30,
        gt=0,
        validation_alias="AUTH_RESET_PASSWORD_EXPIRE_MINUTES",
        description="Lifetime of a password reset token, in minutes.",
    )
    change_email_expire_minutes: int = Field(
        default=60,
        gt=0,
        validation_alias="AUTH_CHANGE_EMAIL_EXPIRE_MINUTES",
        description="Lifetime of an email change confirmation token, in minutes.",
    )
    login_link_expire_minutes: int = Field(
        default=15,
        gt=0,
        validation_alias="AUTH_LOGIN_LINK_EXPIRE_MINUTES",
        description="Lifetime of a sign-in link, in minutes.",
    )
    sender_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias="AUTH_SENDER_TIMEOUT_SECONDS",
        description=(
            "A sender still running after this long is abandoned, logged and reported "
            "(`message.failed`)."
        ),
    )

    # --- SMTPSender ------------------------------------------------------------------
    smtp_host: str = Field(
        default="localhost",
        validation_alias="AUTH_SMTP_HOST",
        description="`SMTPSender`: the mail server's host name.",
    )
    smtp_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        validation_alias="AUTH_SMTP_PORT",
        description="`SMTPSender`: the port; default 25, 587 (`starttls`) or 465 (`tls`).",
    )
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        validation_alias="AUTH_SMTP_SECURITY",
        description=(
            "`SMTPSender`: `starttls` (required, certificate verified), `tls` (implicit "
            "TLS), or `none` (plain text: only for a relay on the same host)."
        ),
    )
    smtp_username: str | None = Field(
        default=None,
        validation_alias="AUTH_SMTP_USERNAME",
        description="`SMTPSender`: the login for SMTP AUTH; unset: no authentication.",
    )
    smtp_password: SecretStr | None = Field(
        default=None,
        validation_alias="AUTH_SMTP_PASSWORD",
        description="`SMTPSender`: the password for SMTP AUTH.",
    )
    smtp_from: str = Field(
        default="no-reply@localhost",
        validation_alias="AUTH_SMTP_FROM",
        description="`SMTPSender`: the `From` address of every message.",
    )
    smtp_timeout: float = Field(
        default=10.0,
        gt=0,
        validation_alias="AUTH_SMTP_TIMEOUT",
        description="`SMTPSender`: seconds to wait for the server at each step.",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        validation_alias="AUTH_SMTP_CA_FILE",
        description=(
            "`SMTPSender`: a PEM bundle of the CAs trusted for the server's certificate; "
            "default: the system's."
        ),
    )

    @field_validator("verify_email_url", "reset_password_url", "change_email_url", "login_link_url")
    @classmethod
    def _check_template(cls, value: str) -> str:
        if value.count(TOKEN_PLACEHOLDER) != 1:
            raise ValueError(
                f"A link template must contain {TOKEN_PLACEHOLDER} exactly once, for example "
                "https://app.example/reset#token={token}."
            )
        return value
