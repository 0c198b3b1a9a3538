"""`AuthSettings`: every knob of authmanager, read from the environment."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails
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


def _without_input(exc: ValidationError) -> ValidationError:
    """*exc* with every input masked: `errors()` would otherwise hand out the secrets.

    (`hide_input_in_errors` only keeps them out of the message.)
    """
    details: list[InitErrorDetails] = []
    for error in exc.errors(include_url=False):
        detail: InitErrorDetails = {
            "type": error["type"],
            "loc": error["loc"],
            "input": "**********",
        }
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        details.append(detail)
    return ValidationError.from_exception_data(exc.title, details, hide_input=True)


def _weakness(secret: str) -> str | None:
    """Why production refuses the HS* *secret*, or None when it is fit."""
    if secret == DEFAULT_SECRET:
        return "is the development default"
    if len(secret.encode("utf-8", "surrogatepass")) < HS_MIN_SECRET_BYTES:
        return f"is shorter than {HS_MIN_SECRET_BYTES} bytes"
    return None


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
        # pydantic-settings' own `.env` support: `AuthSettings(_env_file=None)` turns it
        # off, `_env_file="deploy/.env"` reads another file; the environment wins.
        env_file=".env",
        env_file_encoding="utf-8",
        # A validation error must never print the input: it holds the secrets.
        hide_input_in_errors=True,
    )

    if not TYPE_CHECKING:  # mypy keeps the plugin's signature, with every field typed

        def __init__(self, **values: Any) -> None:
            try:
                super().__init__(**values)
            except ValidationError as exc:
                masked = _without_input(exc)
            else:
                return
            raise masked  # outside the handler: not even `__context__` keeps the input

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
        # AUTH_REFRESH_COOKIE_NAME: the 0.1 name, still read.
        validation_alias=AliasChoices("AUTH_COOKIE_NAME", "AUTH_REFRESH_COOKIE_NAME"),
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
    openapi_scopes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        validation_alias="AUTH_OPENAPI_SCOPES",
        description=(
            "Scopes offered by the OpenAPI security scheme (Swagger's Authorize dialog): a "
            "JSON object of name to description, or comma-separated names. Scopes named "
            "in `require_scopes` are added by themselves."
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
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        validation_alias="AUTH_MAX_BODY_BYTES",
        description=(
            "Largest request body a route of the library reads, counted while it streams "
            "(chunked or not); a larger one is answered 413."
        ),
    )

    # --- rate limits -----------------------------------------------------------------
    login_rate_limit: str = Field(
        default="5/15 minutes",
        validation_alias="AUTH_LOGIN_RATE_LIMIT",
        description=(
            "Failed logins allowed per login name and client address together (and failed "
            "`/fresh` passwords per user); empty: off."
        ),
    )
    login_account_rate_limit: str = Field(
        default="30/hour",
        validation_alias="AUTH_LOGIN_ACCOUNT_RATE_LIMIT",
        description=(
            "Failed logins allowed per login name from every address (guessing spread over "
            "many addresses); an address the account logged in from before is exempt; "
            "empty: off."
        ),
    )
    login_ip_rate_limit: str = Field(
        default="200/hour",
        validation_alias="AUTH_LOGIN_IP_RATE_LIMIT",
        description=(
            "Failed logins allowed per client address over every login name (password "
            "spraying); high enough for an office behind one NAT; empty: off."
        ),
    )
    refresh_rate_limit: str = Field(
        default="60/minute",
        validation_alias="AUTH_REFRESH_RATE_LIMIT",
        description="Refreshes allowed per login session (never per address); empty: off.",
    )
    rate_limit_storage_url: str = Field(
        default="memory://",
        repr=False,  # a Redis URL may hold a password
        validation_alias="AUTH_RATE_LIMIT_STORAGE_URL",
        description="`limits` storage: `memory://`, or `redis://host:6379/0` for many workers.",
    )

    # --- operations ------------------------------------------------------------------
    audit_log: bool = Field(
        default=True,
        validation_alias="AUTH_AUDIT_LOG",
        description=(
            "Log every security event through structlog (`AuditLogHook`, logger "
            "`authmanager.audit`) besides the `hooks` given; off: only those hooks."
        ),
    )
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

    @field_validator("openapi_scopes", mode="before")
    @classmethod
    def _scope_map(cls, value: object) -> object:
        """Accept a JSON object, or comma-separated names (each its own description)."""
        if isinstance(value, str) and not value.strip().startswith("{"):
            return {name.strip(): name.strip() for name in value.split(",") if name.strip()}
        if isinstance(value, str):
            import json

            return json.loads(value)
        return value

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
            # Every key that verifies can mint tokens: each meets the signing key's rules.
            for name, secret in self._hs_keys():
                if not secret:
                    raise ValueError(f"{name} is empty; set a random secret.")
                if "-----BEGIN" in secret:
                    raise ValueError(
                        f"{name} is a PEM key; an HS* secret must be random bytes, never a "
                        "(public) key, or anyone holding that key could sign tokens."
                    )
                weakness = _weakness(secret)
                if self.production and weakness is not None:
                    raise ValueError(
                        f"AUTH_PRODUCTION is on but {name} {weakness}; set a random secret "
                        "(python -m authmanager secret)."
                    )
        elif self.private_key is None and self.private_key_file is None:
            raise ValueError(
                f"JWT_ALGORITHM={self.algorithm} needs a private key: set JWT_PRIVATE_KEY "
                "or JWT_PRIVATE_KEY_FILE."
            )
        if self.production and not self.cookie_secure:
            raise ValueError("AUTH_PRODUCTION is on; AUTH_COOKIE_SECURE must stay true.")
        if self.cookie_name == self.csrf_cookie_name:
            # The page's script reads the CSRF cookie: it must never be the refresh token.
            raise ValueError("AUTH_REFRESH_COOKIE_NAME and AUTH_CSRF_COOKIE_NAME must differ.")
        return self

    def _hs_keys(self) -> list[tuple[str, str]]:
        """(setting name, secret) of every HS* key that verifies, the signing one first."""
        keys = [("JWT_SECRET_KEY", self.secret_key.get_secret_value())]
        keys += [
            (f"JWT_PREVIOUS_KEYS[{n}]", key.get_secret_value())
            for n, key in enumerate(self.previous_keys)
        ]
        return keys

    @property
    def effective_cookie_path(self) -> str:
        """The refresh cookie's path: `cookie_path`, else `route_prefix`, else `/`."""
        return self.cookie_path or self.route_prefix or "/"

    def warn_if_insecure(self) -> None:
        """Warn (once per call and key) for each verifying key production would refuse.

        The development default secret, or an HS* secret shorter than 32 bytes, whether
        it signs (`secret_key`) or only verifies (`previous_keys`).
        """
        if not self.algorithm.startswith("HS"):
            return
        for name, secret in self._hs_keys():
            weakness = _weakness(secret)
            if weakness is None:
                continue
            if name == "JWT_SECRET_KEY" and secret == DEFAULT_SECRET:
                what = "is using the development default JWT_SECRET_KEY"
            elif name == "JWT_SECRET_KEY":
                what = f"signs with a JWT_SECRET_KEY that {weakness}"
            else:
                what = f"verifies tokens with {name}, which {weakness}"
            warnings.warn(
                f"authmanager {what}; anyone who knows or guesses it can sign tokens: set "
                "a random secret before going to production (python -m authmanager secret).",
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
        """Read keyword arguments, the environment, a `.env` file, then a secrets directory.

        The secrets directory is `_secrets_dir` (or `secrets_dir` of a subclass's
        `model_config`) when given, else `/run/secrets` when it exists.
        """
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        if getattr(file_secret_settings, "secrets_dir", None) is not None:
            sources.append(file_secret_settings)
        elif SECRETS_DIR.is_dir():
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=SECRETS_DIR))
        return tuple(sources)
