"""Rules on what the account flows accept: passwords, addresses, and who may log in."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from authmanager.accounts._errors import (
    EmailNotVerifiedError,
    InvalidAddressError,
    PasswordPolicyError,
)

if TYPE_CHECKING:
    from authmanager._core.settings import AuthSettings

__all__ = [
    "PasswordPolicy",
    "check_address",
    "ensure_login_allowed",
    "is_verified",
]

#: RFC 5321 §4.5.3.1: 64 octets of local part, 256 of path with its angle brackets.
_MAX_LOCAL = 64
_MAX_ADDRESS = 254


class PasswordPolicy:
    """The password rules of registration, reset and change (NIST SP 800-63B style).

    Only lengths are enforced: at least `password_min_length` characters, at most
    `max_password_bytes` UTF-8 bytes (the bound that keeps hashing cheap to refuse);
    no composition rules, which push users to predictable patterns.

    Args:
        settings: The settings holding both bounds.

    Raises:
        ValueError: the minimum cannot be met within the maximum.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self._min = settings.password_min_length
        self._max_bytes = settings.max_password_bytes
        if self._min > self._max_bytes:
            raise ValueError("AUTH_PASSWORD_MIN_LENGTH exceeds AUTH_MAX_PASSWORD_BYTES.")

    def check(self, password: str) -> None:
        """Return when *password* passes; raise `PasswordPolicyError` naming the rule otherwise."""
        try:
            size = len(password.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates: not text any hasher can take
            raise PasswordPolicyError(
                "The password holds characters that are not valid Unicode.", rule="encoding"
            ) from None
        if len(password) < self._min:
            raise PasswordPolicyError(
                f"The password must be at least {self._min} characters long.", rule="min_length"
            )
        if size > self._max_bytes:
            raise PasswordPolicyError(
                f"The password must be at most {self._max_bytes} bytes long.", rule="max_bytes"
            )


def check_address(value: str) -> str:
    """Return *value* stripped when it can be a mail recipient; else raise `InvalidAddressError`.

    Deliverability is not judged (the message will tell); refused is what could be
    abused: control and format characters (header injection, hidden text), white
    space, anything but one `@` between non-empty parts, and over-long addresses.
    """
    address = value.strip() if isinstance(value, str) else ""
    local, _, domain = address.partition("@")
    if (
        address.count("@") != 1
        or not local
        or not domain
        or len(local) > _MAX_LOCAL
        or len(address) > _MAX_ADDRESS
        or any(c.isspace() or unicodedata.category(c).startswith("C") for c in address)
    ):
        raise InvalidAddressError("The login must be a valid email address.")
    return address


def is_verified(user: object) -> bool:
    """Return whether the user's `is_verified` attribute is true (missing counts as not)."""
    return getattr(user, "is_verified", False) is True


def ensure_login_allowed(user: object, *, require_verified_email: bool) -> None:
    """Return when *user* may log in as far as the account rules go.

    With `AUTH_REQUIRE_VERIFIED_EMAIL` on, a user whose `is_verified` is not true is
    refused (fail closed: a model without the attribute never passes). Call it after
    the password (or other credential) was checked, so it reveals nothing to a stranger.

    Raises:
        EmailNotVerifiedError: verification is required and the user is not verified.
    """
    if require_verified_email and not is_verified(user):
        raise EmailNotVerifiedError()
