"""`AuthSettings`: every knob of authmanager, read from the environment."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from authmanager._core.config.accounts import AccountSettings
from authmanager._core.config.apikeys import ApiKeySettings
from authmanager._core.config.identities import IdentitySettings
from authmanager._core.config.mfa import MfaSettings

__all__ = ["DEFAULT_SECRET", "AuthSettings", "InsecureSettingsWarning"]

#: The development-only default secret; refused in production, warned about elsewhere.
DEFAULT_SECRET = "supersecret"
SECRETS_DIR = Path("/run/secrets")
HS_MIN_SECRET_BYTES = 32

Algorithm = Literal["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"]


class InsecureSettingsWarning(UserWarning):
    """Settings that are fine for development and dangerous in production."""


def _split(value: object) -> object:
    """Accept a comma-separated string, or a JSON list, for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class AuthSettings(AccountSettings, MfaSettings, IdentitySettings, ApiKeySettings):
    """Settings of one [`AuthManager`][authmanager.AuthManager].

    Each field is read from its environment variable (named in the configuration
    reference); keyword arguments use the field names:
    `AuthSettings(secret_key="...", audience="app")`. The secret is also read from
    the secrets file `/run/secrets/jwt_secret_key`. The object is frozen.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        case_sensitive=False,
        validate_by_name=True,
        validate_by_alias=True,
        env_ignore_empty=False,
        # A validation error must never print the input: it holds the secrets.
        hide_input_in_errors=True,
    )

    # --- keys and tokens -------------------------------------------------------------
    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET),
        validation_alias="JWT_SECRET_KEY",
        description="HMAC secret for HS* algorithms. The default is for development only.",
    )
    algorithm: Algorithm = Field(
        default="HS256",
        validation_alias="JWT_ALGORITHM",
        description="Signing algorithm; the only one accepted when verifying.",
    )
    private_key: SecretStr | None = Field(
        default=None,
        validation_alias="JWT_PRIVATE_KEY",
        description="PEM private key for RS256, ES256 or EdDSA.",
    )
    private_key_file: Path | None = Field(
        default=None,
        validation_alias="JWT_PRIVATE_KEY_FILE",
        description="Path of a PEM private key file, instead of `private_key`.",
    )
    previous_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        validation_alias="JWT_PREVIOUS_KEYS",
        description=(
            "Earlier secrets (HS*) or PEM keys (asymmetric) that still verify tokens "
            "but never sign; a JSON list or comma-separated secrets."
        ),
    )
    access_token_expire_minutes: int = Field(
        default=30,
        gt=0,
        validation_alias="JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
        description="Lifetime of an access token, in minutes.",
    )
    refresh_token_expire_days: int = Field(
        default=7,
        gt=0,
        validation_alias="JWT_REFRESH_TOKEN_EXPIRE_DAYS",
        description="Lifetime of a refresh token, in days; each rotation starts a new one.",
    )
    session_max_age_days: int = Field(
        default=30,
        gt=0,
        validation_alias="AUTH_SESSION_MAX_AGE_DAYS",
        description="Absolute lifetime of a login session; rotation never extends it.",
    )
    audience: str | None = Field(
        default=None,
        validation_alias="JWT_AUDIENCE",
        description=(
            "`aud` of issued tokens and the audience required when verifying. When unset, "
            "an audience derived from the signing key is used, so managers with different "
            "keys never accept each other's tokens."
        ),
    )
    issuer: str | None = Field(
        default=None,
        validation_alias="JWT_ISSUER",
        description="`iss` of issued tokens and the issuer required when verifying.",
    )
    leeway_seconds: int = Field(
        default=10,
        ge=0,
        le=300,
        validation_alias="JWT_LEEWAY_SECONDS",
        description="Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.",
    )
    max_token_bytes: int = Field(
        default=8192,
        ge=256,
        validation_alias="JWT_MAX_TOKEN_BYTES",
        description="Tokens longer than this are refused before any parsing.",
    )
    refresh_reuse_grace_seconds: int = Field(
        default=5,
        ge=0,
        le=120,
        validation_alias="JWT_REFRESH_REUSE_GRACE_SECONDS",
        description=(
            "A rotated refresh token presented again within this many seconds of its "
            "rotation is refused without ending the session (two tabs racing)."
        ),
    )
    refresh_retry_within_grace: bool = Field(
        default=True,
        validation_alias="AUTH_REFRESH_RETRY_WITHIN_GRACE",
        description=(
            "A refresh token presented again within the grace window, whose successor is "
            "still unused, gets that successor again (a retry after a lost answer) "
            "instead of a 401."
        ),
    )
    fresh_token_minutes: int = Field(
        default=15,
        ge=0,
        validation_alias="AUTH_FRESH_TOKEN_MINUTES",
        description="How long an access token minted by a password login counts as fresh.",
    )

    # --- bound tokens: device, DPoP, WebSockets (see the guides) -----------------------
    user_agent_policy: Literal["allow", "report", "refuse"] = Field(
        default="allow",
        validation_alias="AUTH_USER_AGENT_POLICY",
        description=(
            "What a request or refresh whose User-Agent differs from the login's gets: "
            "`allow`, `report` (event `device.mismatch`), or `refuse` (401)."
        ),
    )
    ip_network_policy: Literal["allow", "report", "refuse"] = Field(
        default="allow",
        validation_alias="AUTH_IP_NETWORK_POLICY",
        description=(
            "The same for a client address outside the login's network (/24 IPv4, /64 IPv6)."
        ),
    )
    dpop_required: bool = Field(
        default=False,
        validation_alias="AUTH_DPOP_REQUIRED",
        description="Refuse logins without a DPoP proof and tokens not bound to a DPoP key.",
    )
    dpop_algorithms: Annotated[list[Literal["ES256", "RS256", "EdDSA"]], NoDecode] = Field(
        default_factory=lambda: ["ES256", "RS256", "EdDSA"],  # type: ignore[arg-type]
        validation_alias="AUTH_DPOP_ALGORITHMS",
        description="Signature algorithms accepted in DPoP proofs; comma-separated.",
    )
    dpop_proof_max_age_seconds: int = Field(
        default=60,
        ge=1,
        le=600,
        validation_alias="AUTH_DPOP_PROOF_MAX_AGE_SECONDS",
        description="How old a DPoP proof's `iat` may be; its `jti` is remembered as long.",
    )
    websocket_recheck_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias="AUTH_WEBSOCKET_RECHECK_SECONDS",
        description="How often an open WebSocket's session is checked; revoked: closed 4001.",
    )
    websocket_auth_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias="AUTH_WEBSOCKET_AUTH_TIMEOUT_SECONDS",
        description="How long a WebSocket may take to send its auth message before closing.",
    )

    # --- production guard ------------------------------------------------------------
    production: bool = Field(
        default=False,
        validation_alias="AUTH_PRODUCTION",
        description="Refuse to start with the default secret or a weak one.",
    )

    # --- passwords -------------------------------------------------------------------
    password_scheme: Literal["bcrypt_sha256", "argon2"] = Field(
        default="bcrypt_sha256",
        validation_alias="AUTH_PASSWORD_SCHEME",
        description=(
            "Hash scheme for new hashes: bcrypt with an HMAC-SHA256 pre-hash (no 72-byte "
            "truncation), or Argon2id (needs the `argon2` extra)."
        ),
    )
    bcrypt_rounds: int = Field(
        default=12,
        ge=4,
        le=31,
        validation_alias="AUTH_BCRYPT_ROUNDS",
        description="bcrypt cost factor; hashes with a lower cost are upgraded at login.",
    )
    max_password_bytes: int = Field(
        default=1024,
        ge=64,
        validation_alias="AUTH_MAX_PASSWORD_BYTES",
        description="Passwords longer than this (UTF-8 bytes) are refused before hashing.",
    )
    password_hash_workers: int | None = Field(
        default=None,
        ge=1,
        validation_alias="AUTH_PASSWORD_HASH_WORKERS",
        description="Threads that hash passwords at once; default: CPU count minus one.",
    )

    # --- HTTP transport --------------------------------------------------------------
    route_prefix: str = Field(
        default="/auth",
        validation_alias="AUTH_ROUTE_PREFIX",
        description=(
            "Where the application mounts `auth.router`; used for the OAuth2 `tokenUrl` "
            "and the refresh cookie's path."
        ),
    )
    refresh_token_transport: Literal["cookie", "body", "both"] = Field(
        default="cookie",
        validation_alias="AUTH_REFRESH_TOKEN_TRANSPORT",
        description="Where `/login` and `/refresh` hand out the refresh token.",
    )
    cookie_name: str = Field(
        default="refresh_token",
        validation_alias="AUTH_REFRESH_COOKIE_NAME",
        description="Name of the refresh-token cookie.",
    )
    cookie_secure: bool = Field(
        default=True,
        validation_alias="AUTH_COOKIE_SECURE",
        description="Mark cookies Secure; turn off only for plain-http development.",
    )
    cookie_samesite: Literal["strict", "lax", "none"] = Field(
        default="strict",
        validation_alias="AUTH_COOKIE_SAMESITE",
        description="SameSite attribute of the refresh cookie.",
    )
    cookie_domain: str | None = Field(
        default=None,
        validation_alias="AUTH_COOKIE_DOMAIN",
        description="Domain attribute of the cookies; unset means host-only.",
    )
    cookie_path: str | None = Field(
        default=None,
        validation_alias="AUTH_COOKIE_PATH",
        description="Path attribute of the refresh cookie; default: `route_prefix`.",
    )
    csrf_protection: bool = Field(
        default=True,
        validation_alias="AUTH_CSRF_PROTECTION",
        description=(
            "Refuse cross-site requests (Origin, Sec-Fetch-Site) and require the "
            "double-submit CSRF token on requests that use the refresh cookie."
        ),
    )
    csrf_cookie_name: str = Field(
        default="csrf_token",
        validation_alias="AUTH_CSRF_COOKIE_NAME",
        description="Name of the readable double-submit CSRF cookie.",
    )
    csrf_header_name: str = Field(
        default="X-CSRF-Token",
        validation_alias="AUTH_CSRF_HEADER_NAME",
        description="Header that must echo the CSRF cookie.",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="AUTH_ALLOWED_ORIGINS",
        description=(
            "Origins allowed to call the cookie routes besides the server's own; comma-separated."
        ),
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="AUTH_TRUSTED_PROXIES",
        description=(
            "Addresses or networks of reverse proxies whose `X-Forwarded-For` is "
            "believed; empty means the header is ignored."
        ),
    )

    # --- rate limits -----------------------------------------------------------------
    login_rate_limit: str = Field(
        default="5/15 minutes",
        validation_alias="AUTH_LOGIN_RATE_LIMIT",
        description="Failed logins allowed per client IP and per login name; empty: off.",
    )
    refresh_rate_limit: str = Field(
        default="60/minute",
        validation_alias="AUTH_REFRESH_RATE_LIMIT",
        description="Refresh attempts allowed per client IP; empty: off.",
    )
    rate_limit_storage_url: str = Field(
        default="memory://",
        validation_alias="AUTH_RATE_LIMIT_STORAGE_URL",
        description="`limits` storage: `memory://`, or `redis://host:6379/0` for many workers.",
    )

    # --- operations ------------------------------------------------------------------
    hook_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        validation_alias="AUTH_HOOK_TIMEOUT_SECONDS",
        description="A hook still running after this long is abandoned and logged.",
    )
    sqlite_pragmas: bool = Field(
        default=True,
        validation_alias="AUTH_SQLITE_PRAGMAS",
        description=(
            "On a SQLite engine, set WAL journal, synchronous=NORMAL, a busy timeout and "
            "foreign keys on each new connection."
        ),
    )
    state_cache: Literal["auto", "off", "local", "postgres"] = Field(
        default="auto",
        validation_alias="AUTH_STATE_CACHE",
        description=(
            "Keep live access-token states between requests, dropped exactly by each "
            "revocation: `local` (the processes of one host share invalidation slots), "
            "`postgres` (also other hosts, by LISTEN/NOTIFY), `off`; `auto` is `local` on "
            "SQLite and `postgres` on PostgreSQL. See the state cache guide."
        ),
    )
    state_cache_ttl_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias="AUTH_STATE_CACHE_TTL_SECONDS",
        description=(
            "Longest use of a cached state: the bound for revocations written by SQL "
            "outside the library and not reported with `invalidate_state_cache()`."
        ),
    )
    state_cache_size: int = Field(
        default=50000,
        ge=1,
        validation_alias="AUTH_STATE_CACHE_SIZE",
        description="Cached token states kept per process at most (about 0.5 KB each).",
    )
    state_cache_file: Path | None = Field(
        default=None,
        validation_alias="AUTH_STATE_CACHE_FILE",
        description=(
            "The invalidation slots shared by a host's processes; default "
            "`<SQLite file>.authmanager-slots`, or a file in `/dev/shm` named after the "
            "database."
        ),
    )

    @field_validator(
        "previous_keys", "allowed_origins", "trusted_proxies", "dpop_algorithms", mode="before"
    )
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("route_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        value = value.rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError("route_prefix must start with '/', for example '/auth'.")
        return value

    @model_validator(mode="after")
    def _check_security(self) -> AuthSettings:
        if self.algorithm.startswith("HS"):
            secret = self.secret_key.get_secret_value()
            if not secret:
                raise ValueError("JWT_SECRET_KEY is empty; set a random secret.")
            if self.production and secret == DEFAULT_SECRET:
                raise ValueError(
                    "AUTH_PRODUCTION is on but JWT_SECRET_KEY is the development default; "
                    "set a random secret (python -m authmanager secret)."
                )
            if self.production and len(secret.encode()) < HS_MIN_SECRET_BYTES:
                raise ValueError(
                    f"AUTH_PRODUCTION is on and JWT_SECRET_KEY is shorter than "
                    f"{HS_MIN_SECRET_BYTES} bytes; use python -m authmanager secret."
                )
        elif self.private_key is None and self.private_key_file is None:
            raise ValueError(
                f"JWT_ALGORITHM={self.algorithm} needs a private key: set JWT_PRIVATE_KEY "
                "or JWT_PRIVATE_KEY_FILE."
            )
        if self.production and not self.cookie_secure:
            raise ValueError("AUTH_PRODUCTION is on; AUTH_COOKIE_SECURE must stay true.")
        return self

    @property
    def effective_cookie_path(self) -> str:
        """The refresh cookie's path: `cookie_path`, else `route_prefix`, else `/`."""
        return self.cookie_path or self.route_prefix or "/"

    def warn_if_insecure(self) -> None:
        """Warn (once per call) when the development default secret is in use."""
        if self.algorithm.startswith("HS") and self.secret_key.get_secret_value() == DEFAULT_SECRET:
            warnings.warn(
                "authmanager is using the development default JWT_SECRET_KEY; set a random "
                "secret before going to production (python -m authmanager secret).",
                InsecureSettingsWarning,
                stacklevel=3,
            )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read keyword arguments, then the environment, then `/run/secrets` if present."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if SECRETS_DIR.is_dir():
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=SECRETS_DIR))
        return tuple(sources)
