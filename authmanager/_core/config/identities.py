"""Settings of one capability (composed into `AuthSettings`): external identity providers."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

__all__ = ["IdentitySettings", "ProviderConfig", "UserinfoFields", "check_provider_url"]

#: Provider names appear in URL paths (`/oidc/{provider}/callback`): keep them plain.
PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
DEFAULT_OIDC_SCOPES = ("openid", "email", "profile")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_provider_url(value: str, what: str) -> str:
    """Return *value* if it is an absolute https URL (http only on loopback), else raise.

    Raises:
        ValueError: the URL is relative, has credentials or a fragment, or is plain
            http to a host other than this machine.
    """
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in {"https", "http"} or not host:
        raise ValueError(f"{what} must be an absolute https URL, not {value!r}.")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError(f"{what} must use https (plain http is allowed only on loopback).")
    if parts.username or parts.password or parts.fragment:
        raise ValueError(f"{what} must not carry credentials or a fragment.")
    return value


class UserinfoFields(BaseModel):
    """Where a plain OAuth 2.0 provider's userinfo answer keeps each fact (GitHub: `id`).

    A field that is absent, or named None here, counts as unknown; an email whose
    `email_verified` field is missing counts as unverified.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = "sub"
    email: str | None = "email"
    email_verified: str | None = "email_verified"
    name: str | None = "name"


class ProviderConfig(BaseModel):
    """One entry of `AUTH_OIDC_PROVIDERS`: an OpenID provider, or a plain OAuth 2.0 one.

    Give `issuer` for OpenID Connect (endpoints and keys come from its discovery
    document), or the three endpoints for a plain OAuth 2.0 provider (the user is read
    from `userinfo_endpoint` through `userinfo_fields`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr | None = None
    scopes: list[str] | None = None
    token_endpoint_auth_method: (
        Literal["client_secret_basic", "client_secret_post", "none"] | None
    ) = None
    userinfo_fields: UserinfoFields = UserinfoFields()
    #: Further audiences accepted by the native ID-token exchange (the iOS or Android
    #: client ids of the same application at this provider).
    native_client_ids: list[str] = Field(default_factory=list)

    @property
    def is_oidc(self) -> bool:
        """Whether this is an OpenID provider (configured by its issuer)."""
        return self.issuer is not None

    @property
    def scope_list(self) -> list[str]:
        """The scopes to request: the configured ones, else OpenID's defaults."""
        if self.scopes is not None:
            return list(self.scopes)
        return list(DEFAULT_OIDC_SCOPES) if self.is_oidc else []

    @property
    def auth_method(self) -> str:
        """How the client authenticates at the token endpoint."""
        if self.token_endpoint_auth_method is not None:
            return self.token_endpoint_auth_method
        return "client_secret_basic" if self.client_secret is not None else "none"

    @model_validator(mode="after")
    def _check(self) -> ProviderConfig:
        endpoints = {
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": self.userinfo_endpoint,
        }
        given = {k for k, v in endpoints.items() if v is not None}
        if self.issuer is not None:
            if given:
                raise ValueError(
                    "Give either issuer (OpenID Connect discovery) or the endpoints of a "
                    "plain OAuth 2.0 provider, not both."
                )
            check_provider_url(self.issuer, "issuer")
            if "openid" not in self.scope_list:
                raise ValueError("The scopes of an OpenID Connect provider must include openid.")
        elif given != set(endpoints):
            raise ValueError(
                "A provider needs issuer, or authorization_endpoint, token_endpoint and "
                "userinfo_endpoint."
            )
        for name in given:
            check_provider_url(endpoints[name] or "", name)
        if self.auth_method != "none" and self.client_secret is None:
            raise ValueError(f"token_endpoint_auth_method {self.auth_method} needs client_secret.")
        return self


class IdentitySettings(BaseSettings):
    """Settings: sign-in with OpenID Connect and OAuth 2.0 providers."""

    oidc_providers: dict[str, ProviderConfig] = Field(
        default_factory=dict,
        validation_alias="AUTH_OIDC_PROVIDERS",
        description=(
            "External identity providers, a JSON object: name → `{issuer}` (OpenID Connect "
            "discovery) or `{authorization_endpoint, token_endpoint, userinfo_endpoint, "
            "userinfo_fields}` (plain OAuth 2.0), with `client_id`, `client_secret`, "
            "`scopes`, `token_endpoint_auth_method` and `native_client_ids`."
        ),
    )
    oidc_redirect_base_url: str | None = Field(
        default=None,
        validation_alias="AUTH_OIDC_REDIRECT_BASE_URL",
        description=(
            "The application's public base URL (`https://app.example.com`); the callback "
            "registered at each provider is this + `route_prefix` + "
            "`/oidc/<provider>/callback`. Required with providers."
        ),
    )
    oidc_flow_ttl_seconds: int = Field(
        default=600,
        ge=30,
        le=3600,
        validation_alias="AUTH_OIDC_FLOW_TTL_SECONDS",
        description="How long a started provider sign-in (its `state`) may be completed.",
    )
    oidc_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        validation_alias="AUTH_OIDC_TIMEOUT_SECONDS",
        description="Timeout of each call to a provider; a slower provider answers 503.",
    )
    oidc_metadata_ttl_seconds: int = Field(
        default=3600,
        ge=0,
        validation_alias="AUTH_OIDC_METADATA_TTL_SECONDS",
        description=(
            "How long a provider's discovery document and keys are cached; an unknown key "
            "id refetches the keys once."
        ),
    )
    oidc_cookie_name: str = Field(
        default="authmanager_oidc",
        validation_alias="AUTH_OIDC_COOKIE_NAME",
        description=(
            "Name of the short-lived HttpOnly cookie that binds a provider sign-in to its browser."
        ),
    )
    oidc_rate_limit: str = Field(
        default="30/minute",
        validation_alias="AUTH_OIDC_RATE_LIMIT",
        description=(
            "Provider sign-ins started, and ID tokens exchanged, per client IP; empty: off."
        ),
    )

    @field_validator("oidc_providers")
    @classmethod
    def _check_names(cls, value: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        for name in value:
            if not PROVIDER_NAME.fullmatch(name):
                raise ValueError(
                    f"Provider name {name!r} must be 1-32 of a-z, 0-9, '-' and '_', "
                    "starting with a letter or digit."
                )
        return value

    @field_validator("oidc_redirect_base_url")
    @classmethod
    def _check_base(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_provider_url(value, "AUTH_OIDC_REDIRECT_BASE_URL")
        if urlsplit(value).query:
            raise ValueError("AUTH_OIDC_REDIRECT_BASE_URL must not have a query.")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_redirect(self) -> IdentitySettings:
        if self.oidc_providers and self.oidc_redirect_base_url is None:
            raise ValueError(
                "AUTH_OIDC_PROVIDERS is set but AUTH_OIDC_REDIRECT_BASE_URL is not; set the "
                "application's public base URL (https://app.example.com)."
            )
        return self
