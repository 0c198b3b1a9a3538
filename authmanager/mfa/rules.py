"""The rules of one `mfa_token` and its answers: pure functions, no storage.

Which token can take an attempt, which answers a request gives, and what `amr` the
session gets; `SignIn` applies them around its transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from authmanager._core.types import ClientInfo
from authmanager.exceptions import (
    ExpiredTokenError,
    InvalidCredentialsError,
    InvalidTokenError,
    Reason,
)
from authmanager.mfa.challenges import MAX_ATTEMPTS, MAX_TOKEN_CHARS, MfaTokenRow, digest

__all__ = [
    "MFA_SPACE",
    "amr_of",
    "answer_method",
    "client_fields",
    "hash_of",
    "not_signed_out",
    "usable",
    "wrong_code",
]

#: Rate-limit key space of failed second-factor answers, per user.
MFA_SPACE = "mfa-user"


def client_fields(client: ClientInfo) -> dict[str, str | None]:
    """The event fields that describe the caller."""
    return {"client_ip": client.ip_address, "user_agent": client.user_agent}


def hash_of(mfa_token: str) -> str:
    """Return the stored digest of *mfa_token*, refusing a malformed one before hashing."""
    if not isinstance(mfa_token, str) or not mfa_token or len(mfa_token) > MAX_TOKEN_CHARS:
        raise InvalidTokenError("The mfa_token is malformed.", reason=Reason.MALFORMED)
    return digest(mfa_token)


def usable(row: MfaTokenRow | None, now: datetime) -> MfaTokenRow:
    """Return *row* when its token can take an attempt; raise why not otherwise."""
    if row is None or row.used_at is not None:
        raise InvalidTokenError("The mfa_token is unknown or used.", reason=Reason.UNKNOWN_TOKEN)
    if row.expires_at <= now:
        raise ExpiredTokenError("The mfa_token has expired; log in again.")
    if row.attempts >= MAX_ATTEMPTS:
        raise InvalidTokenError(
            "Too many wrong answers for this mfa_token; log in again.",
            reason=Reason.TOO_MANY_ATTEMPTS,
        )
    return row


def not_signed_out(row: MfaTokenRow, signed_out: datetime | None) -> None:
    """Refuse a token issued at or before the user's sign-out everywhere (*signed_out*).

    Ending every session (logout-all, a password change, deactivation) ends the
    sign-ins half done as well, by the rule that ends the sessions of that time.
    """
    if signed_out is not None and row.created_at <= signed_out:
        raise InvalidTokenError(
            "The sign-in was cancelled by a sign-out everywhere; log in again.",
            reason=Reason.REVOKED,
        )


def wrong_code() -> InvalidCredentialsError:
    """The refusal of a wrong TOTP or recovery code."""
    return InvalidCredentialsError("The code is not valid.", reason=Reason.WRONG_CODE)


def answer_method(code: str | None, recovery_code: str | None, passkey: object | None) -> str:
    """Return which answer was given (`totp`, `recovery_code`, `passkey`); exactly one.

    Raises:
        ValueError: none, or more than one.
    """
    given = [
        name
        for name, value in (("totp", code), ("recovery_code", recovery_code), ("passkey", passkey))
        if value is not None
    ]
    if len(given) != 1:
        raise ValueError("Give exactly one of code, recovery_code or passkey.")
    return given[0]


def amr_of(first: Sequence[str], method: str) -> list[str]:
    """RFC 8176 values: the first step's, the second factor's, and `mfa`."""
    return list(dict.fromkeys([*first, method, "mfa"]))
