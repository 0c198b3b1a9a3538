"""The exceptions of authmanager.

Every error the library raises on purpose is an [`AuthError`][authmanager.exceptions.AuthError].
Finer distinctions are carried by the `reason` attribute, a stable string of
[`Reason`][authmanager.exceptions.Reason], the same string that appears in the
`token.rejected` event and in the logs.

This module imports neither FastAPI nor SQLAlchemy, so it can be used anywhere.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AuthError",
    "ExpiredTokenError",
    "InvalidCredentialsError",
    "InvalidTokenError",
    "RateLimitExceededError",
    "Reason",
    "RevokedTokenError",
    "TokenStoreUnavailableError",
]


class Reason(StrEnum):
    """Stable reason codes carried by exceptions and `token.rejected` events."""

    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    SIGNATURE = "signature"
    ALGORITHM = "algorithm"
    UNKNOWN_KEY = "unknown_key"
    FORBIDDEN_HEADER = "forbidden_header"
    MISSING_CLAIM = "missing_claim"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_TOKEN = "unknown_token"
    REVOKED = "revoked"
    SESSION_REVOKED = "session_revoked"
    SESSION_EXPIRED = "session_expired"
    REUSED_REFRESH = "reused_refresh"
    ROTATED_RECENTLY = "rotated_recently"
    USER_NOT_FOUND = "user_not_found"
    USER_INACTIVE = "user_inactive"
    BAD_CREDENTIALS = "bad_credentials"
    PASSWORD_TOO_LONG = "password_too_long"
    NOT_FRESH = "not_fresh"
    DEVICE_MISMATCH = "device_mismatch"
    DPOP = "dpop"
    CSRF = "csrf"
    DUPLICATE_CREDENTIALS = "duplicate_credentials"
    MISSING = "missing"
    RATE_LIMITED = "rate_limited"
    STORE_UNAVAILABLE = "store_unavailable"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    VALIDATOR = "validator"
    # API keys
    API_KEY_MALFORMED = "api_key_malformed"
    API_KEY_CHECKSUM = "api_key_checksum"
    API_KEY_UNKNOWN = "api_key_unknown"
    API_KEY_REVOKED = "api_key_revoked"
    API_KEY_EXPIRED = "api_key_expired"
    # Account flows
    EMAIL_NOT_VERIFIED = "email_not_verified"
    TOKEN_USED = "token_used"
    LOGIN_TAKEN = "login_taken"
    # External identity providers (sign-in with OpenID Connect / OAuth 2.0)
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_ERROR = "provider_error"
    UNKNOWN_PROVIDER = "unknown_provider"
    INVALID_STATE = "invalid_state"
    INVALID_NONCE = "invalid_nonce"
    INVALID_CODE = "invalid_code"
    UNSAFE_REDIRECT = "unsafe_redirect"
    IDENTITY_REFUSED = "identity_refused"
    IDENTITY_IN_USE = "identity_in_use"
    LAST_SIGN_IN_METHOD = "last_sign_in_method"
    # OAuth 2.0 token endpoint
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    # Hardening
    BODY_TOO_LARGE = "body_too_large"
    # API keys and administration
    WRONG_CREDENTIAL = "wrong_credential"
    # Account flows (phase 2)
    PASSWORD_POLICY = "password_policy"
    INVALID_ADDRESS = "invalid_address"
    INVALID_FIELDS = "invalid_fields"
    FLOW_UNAVAILABLE = "flow_unavailable"
    # Second factors
    WRONG_CODE = "wrong_code"
    CODE_REPLAYED = "code_replayed"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    UNKNOWN_FACTOR = "unknown_factor"
    PASSKEY = "passkey"
    SIGN_COUNT = "sign_count"
    CHALLENGE = "challenge"
    MFA_REQUIRED = "mfa_required"
    INSUFFICIENT_AUTHENTICATION = "insufficient_user_authentication"
    MFA_UNAVAILABLE = "mfa_unavailable"
    NO_FACTOR = "no_factor"
    TOO_MANY_FACTORS = "too_many_factors"


class AuthError(Exception):
    """Base class of every error authmanager raises on purpose.

    Attributes:
        reason: A stable [`Reason`][authmanager.exceptions.Reason] code.
        message: One sentence for humans; never contains a token, a password or a secret.
    """

    default_reason: Reason = Reason.MALFORMED
    default_message: str = "Authentication failed."

    def __init__(self, message: str | None = None, *, reason: Reason | None = None) -> None:
        self.message = message or self.default_message
        self.reason = reason or self.default_reason
        super().__init__(self.message)


class InvalidTokenError(AuthError):
    """The token is malformed, forged, of the wrong type or for another audience."""

    default_reason = Reason.MALFORMED
    default_message = "The token is invalid."


class ExpiredTokenError(InvalidTokenError):
    """The token, or the login session it belongs to, has expired."""

    default_reason = Reason.EXPIRED
    default_message = "The token has expired."


class RevokedTokenError(InvalidTokenError):
    """The token, its session or every session of its user was revoked."""

    default_reason = Reason.REVOKED
    default_message = "The token has been revoked."


class InvalidCredentialsError(AuthError):
    """The login or the password is wrong, or the user may not log in.

    The message is the same for an unknown login and a wrong password, so an
    attacker cannot tell which logins exist.
    """

    default_reason = Reason.BAD_CREDENTIALS
    default_message = "Incorrect login or password."


class RateLimitExceededError(AuthError):
    """Too many attempts; retry after `retry_after` seconds."""

    default_reason = Reason.RATE_LIMITED
    default_message = "Too many attempts; try again later."

    def __init__(
        self, message: str | None = None, *, retry_after: int = 1, reason: Reason | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = max(1, int(retry_after))


class TokenStoreUnavailableError(AuthError):
    """The token store (the database) cannot be reached; nothing was let through."""

    default_reason = Reason.STORE_UNAVAILABLE
    default_message = "The authentication service is temporarily unavailable."
