"""Settings of one capability (composed into `AuthSettings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

__all__ = ["ApiKeySettings", "KeyPolicy"]

#: What an account event does to the user's API keys.
KeyPolicy = Literal["revoke", "keep"]


class ApiKeySettings(BaseSettings):
    """Settings: api keys and session controls for administrators.

    The defaults of the three `api_keys_on_*` policies follow what each event means:

    - A password **reset** is account recovery: someone else may hold the account, and
      a key they minted would outlive the reset. Keys are revoked (`revoke`).
    - A password **change** is what a user does after suspecting a compromise; an
      attacker's key must not survive it. Keys are revoked (`revoke`).
    - **Logout everywhere** ends login sessions, the credentials that sit in browsers
      and apps. API keys are deliberate, named, listed and individually revocable
      credentials of scripts and CI; ending them whenever a user signs out of all
      devices would break integrations and teach users to avoid the button. Keys are
      kept (`keep`); the key list shows every key, and creating one needs a fresh login.
    """

    api_key_prefix: str = Field(
        default="am",
        pattern=r"^[a-z][a-z0-9]{1,15}$",
        validation_alias="AUTH_API_KEY_PREFIX",
        description=(
            "Start of every API key, before its `_` (lowercase letters and digits, 2 to 16): "
            "lets secret scanners find leaked keys; a key with another prefix is refused."
        ),
    )
    api_keys_max_per_user: int = Field(
        default=25,
        ge=1,
        le=1000,
        validation_alias="AUTH_API_KEYS_MAX_PER_USER",
        description="Live (neither revoked nor expired) API keys a user may hold at once.",
    )
    api_key_max_lifetime_days: int | None = Field(
        default=365,
        ge=1,
        validation_alias="AUTH_API_KEY_MAX_LIFETIME_DAYS",
        description=(
            "Longest lifetime of an API key, in days; a key created without `expires_in` "
            "gets this one. Empty: keys may never expire."
        ),
    )
    api_keys_on_logout_all: KeyPolicy = Field(
        default="keep",
        validation_alias="AUTH_API_KEYS_ON_LOGOUT_ALL",
        description=(
            "What logout everywhere does to the user's API keys: `keep` (they are not "
            "sessions) or `revoke`."
        ),
    )
    api_keys_on_password_change: KeyPolicy = Field(
        default="revoke",
        validation_alias="AUTH_API_KEYS_ON_PASSWORD_CHANGE",
        description=(
            "What a password change does to the user's API keys: `revoke` (a key minted by "
            "whoever knew the old password dies with it) or `keep`."
        ),
    )
    api_keys_on_password_reset: KeyPolicy = Field(
        default="revoke",
        validation_alias="AUTH_API_KEYS_ON_PASSWORD_RESET",
        description=(
            "What a password reset (account recovery) does to the user's API keys: "
            "`revoke` or `keep`."
        ),
    )

    max_sessions_per_user: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        validation_alias="AUTH_MAX_SESSIONS_PER_USER",
        description=(
            "Login sessions a user may hold at once; a login past the cap ends the user's "
            "least recently used session (event `session.evicted`). Empty: no cap."
        ),
    )

    @field_validator("api_key_max_lifetime_days", "max_sessions_per_user", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # An empty environment variable turns the cap off (for the key lifetime: no
        # expiry is then required).
        if isinstance(value, str) and not value.strip():
            return None
        return value
