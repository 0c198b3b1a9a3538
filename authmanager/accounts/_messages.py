"""Messages to users: their purposes, their shape, their links and their default text."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from authmanager._core.config.accounts import TOKEN_PLACEHOLDER

if TYPE_CHECKING:
    from authmanager._core.settings import AuthSettings

__all__ = ["AccountMessage", "LinkTemplates", "Purpose", "Sender", "render_text"]


class Purpose(StrEnum):
    """Why a message is sent (and, for those with a link, what its token is for)."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    CHANGE_EMAIL = "change_email"
    EMAIL_CHANGED = "email_changed"
    LOGIN_LINK = "login_link"
    ACCOUNT_EXISTS = "account_exists"


@dataclass(frozen=True, slots=True)
class AccountMessage:
    """One message to one user, as a sender receives it.

    Its repr shows neither the token nor the link, so logging a message by mistake
    leaks nothing that works.

    Attributes:
        purpose: What the message is for, a [`Purpose`][authmanager.accounts.Purpose].
        to: The address: the user's login, or for `change_email` the new one.
        user_id: The user concerned.
        link: The application's page URL with the token in it (`None` for the notices
            `email_changed` and `account_exists`, which carry no token).
        token: The single-use token itself, for senders that build their own link.
        expires_at: When the token stops working (`None` without a token).
    """

    purpose: Purpose
    to: str
    user_id: str
    link: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None


class Sender(Protocol):
    """Anything callable with one `AccountMessage`, plain or `async`.

    It runs in the background, bounded by `sender_timeout_seconds`; an exception or a
    timeout is logged and reported as a `message.failed` event, and never reaches the
    user who asked for the message. A plain (non-async) sender runs in a worker thread.
    """

    def __call__(self, message: AccountMessage, /) -> Awaitable[None] | None:  # pragma: no cover
        ...


class LinkTemplates:
    """The link of each purpose with a token, from the `AUTH_*_URL` templates.

    The token goes in where `{token}` stands; the default templates put it in the URL
    fragment (`https://app.example/reset#token=...`): browsers send neither the
    fragment to the server nor in a `Referer`, so the token stays out of access logs,
    proxies and third-party pages. The page reads it from `location.hash` and POSTs it.

    Args:
        settings: The settings holding the four templates.

    Raises:
        ValueError: in production, a template is a plain `http:` URL.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self._templates = {
            Purpose.VERIFY_EMAIL: settings.verify_email_url,
            Purpose.RESET_PASSWORD: settings.reset_password_url,
            Purpose.CHANGE_EMAIL: settings.change_email_url,
            Purpose.LOGIN_LINK: settings.login_link_url,
        }
        if settings.production:
            for purpose, template in self._templates.items():
                if template.lower().startswith("http:"):
                    raise ValueError(
                        f"AUTH_PRODUCTION is on and the {purpose} link template is plain "
                        "http; set it to your https page."
                    )

    def link(self, purpose: Purpose, token: str) -> str:
        """Return the link of *purpose* carrying *token*."""
        return self._templates[purpose].replace(TOKEN_PLACEHOLDER, quote(token, safe=""))


_TEXT: dict[Purpose, tuple[str, str]] = {
    Purpose.VERIFY_EMAIL: (
        "Confirm your email address",
        "Please confirm your email address by opening this link:",
    ),
    Purpose.RESET_PASSWORD: (
        "Reset your password",
        "Someone asked to reset the password of your account. If it was you, open this "
        "link to choose a new one; otherwise ignore this message:",
    ),
    Purpose.CHANGE_EMAIL: (
        "Confirm your new email address",
        "Open this link to make this address the one of your account:",
    ),
    Purpose.EMAIL_CHANGED: (
        "Your email address was changed",
        "The email address of your account was just changed, and this address no longer "
        "signs in. If you did not do this, contact us at once.",
    ),
    Purpose.LOGIN_LINK: (
        "Your sign-in link",
        "Open this link to sign in; it works once:",
    ),
    Purpose.ACCOUNT_EXISTS: (
        "You already have an account",
        "Someone tried to use this address for a new account, but an account with it "
        "already exists. If it was you, sign in, or reset your password if you forgot it; "
        "otherwise ignore this message.",
    ),
}


def render_text(message: AccountMessage) -> tuple[str, str]:
    """Return the default (subject, plain-text body) of *message*."""
    subject, lead = _TEXT[message.purpose]
    lines = [lead]
    if message.link is not None:
        lines += ["", message.link]
    if message.expires_at is not None:
        when = message.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        lines += ["", f"The link expires at {when}."]
    return subject, "\n".join(lines) + "\n"
