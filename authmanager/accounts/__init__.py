"""Account flows on single-use tokens: registration, email verification, password reset,
email change and sign-in links, and the messages they send.

Public here: the message types a sender receives (`AccountMessage`, `Purpose`), the
built-in senders (`ConsoleSender`, `SMTPSender`), `ActionToken`, the password policy
and the errors of the flows. The flows themselves are reached through `AuthManager`.
"""

from authmanager.accounts import tables as _tables  # noqa: F401 - registers the table
from authmanager.accounts._errors import (
    EmailNotVerifiedError,
    InvalidAddressError,
    InvalidFieldsError,
    LoginTakenError,
    MissingLoaderMethodError,
    PasswordPolicyError,
)
from authmanager.accounts._messages import AccountMessage, Purpose, Sender, render_text
from authmanager.accounts._policy import PasswordPolicy
from authmanager.accounts._recovery import LOGIN_LINK_AMR
from authmanager.accounts._senders import ConsoleSender, SMTPSender
from authmanager.accounts._tokens import ActionToken

__all__ = [
    "LOGIN_LINK_AMR",
    "AccountMessage",
    "ActionToken",
    "ConsoleSender",
    "EmailNotVerifiedError",
    "InvalidAddressError",
    "InvalidFieldsError",
    "LoginTakenError",
    "MissingLoaderMethodError",
    "PasswordPolicy",
    "PasswordPolicyError",
    "Purpose",
    "SMTPSender",
    "Sender",
    "render_text",
]
