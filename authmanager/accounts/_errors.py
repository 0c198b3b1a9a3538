"""The errors of the account flows (contract errors stay in `authmanager.exceptions`)."""

from __future__ import annotations

from authmanager.exceptions import AuthError, Reason

__all__ = [
    "EmailNotVerifiedError",
    "InvalidAddressError",
    "InvalidFieldsError",
    "LoginTakenError",
    "MissingLoaderMethodError",
    "PasswordPolicyError",
]


class PasswordPolicyError(ValueError):
    """The password breaks a rule of the policy; nothing was stored.

    Attributes:
        rule: The rule broken, a stable string: `min_length` (`AUTH_PASSWORD_MIN_LENGTH`),
            `max_bytes` (`AUTH_MAX_PASSWORD_BYTES`) or `encoding` (not valid Unicode).
    """

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidAddressError(ValueError):
    """The text is not an email address messages can be sent to; nothing was stored."""


class InvalidFieldsError(ValueError):
    """The user loader refused the extra fields of a registration; nothing was stored.

    The message is the loader's own (its `ValueError`), for the person registering.
    """


class MissingLoaderMethodError(TypeError):
    """The flow needs an optional user-loader method the loader does not have (HTTP 501)."""


class LoginTakenError(AuthError):
    """Another account already uses this login; nothing was changed (HTTP 409)."""

    default_reason = Reason.LOGIN_TAKEN
    default_message = "An account with this login already exists."


class EmailNotVerifiedError(AuthError):
    """The user's email address is not verified and `AUTH_REQUIRE_VERIFIED_EMAIL` is on (403)."""

    default_reason = Reason.EMAIL_NOT_VERIFIED
    default_message = "The email address has not been verified yet."
