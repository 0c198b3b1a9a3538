"""Built-in senders: `ConsoleSender` (development) and `SMTPSender` (aiosmtplib)."""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any, TextIO

from authmanager._core.clock import utcnow
from authmanager.accounts._messages import AccountMessage, render_text

if TYPE_CHECKING:
    from authmanager._core.settings import AuthSettings

__all__ = ["ConsoleSender", "SMTPSender"]

Render = Callable[[AccountMessage], tuple[str, str]]
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


class ConsoleSender:
    """Print each message, link included, to standard output: for development and demos.

    The printed link works: never use this sender where the output is collected in
    logs that others can read.

    Args:
        stream: Where to write instead of `sys.stdout` (read at each message).
        render: Builds (subject, body) from a message; default `render_text`.
    """

    def __init__(self, stream: TextIO | None = None, *, render: Render = render_text) -> None:
        self._stream = stream
        self._render = render

    def __call__(self, message: AccountMessage) -> None:
        """Print *message*."""
        subject, body = self._render(message)
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(f"--- {message.purpose} to {message.to}\nSubject: {subject}\n\n{body}---\n")
        stream.flush()


class SMTPSender:
    """Send each message as a plain-text email through an SMTP server (aiosmtplib).

    Needs the `smtp` extra (`pip install 'authmanager[smtp]'`). Configured by the
    `AUTH_SMTP_*` settings: with `starttls` (the default) the upgrade is required and
    the server's certificate is verified (against `smtp_ca_file` when set); `tls`
    speaks TLS from the first byte; `none` is plain text and refuses credentials.

    Args:
        settings: The settings holding the `smtp_*` fields.
        render: Builds (subject, body) from a message; default `render_text`.
        tls_context: An `ssl.SSLContext` to use instead of one built from the settings.

    Raises:
        ImportError: aiosmtplib is not installed.
        ValueError: credentials without TLS, a password without a user name, or a
            malformed `smtp_from`.

    Example:
        ```python
        auth = AuthManager(..., sender=SMTPSender(settings))
        ```
    """

    def __init__(
        self,
        settings: AuthSettings,
        *,
        render: Render = render_text,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        try:
            import aiosmtplib
        except ImportError as exc:
            raise ImportError(
                "SMTPSender needs aiosmtplib: pip install 'authmanager[smtp]'."
            ) from exc
        self._send: Callable[..., Any] = aiosmtplib.send
        self._security = settings.smtp_security
        password = settings.smtp_password
        if settings.smtp_username and self._security == "none":
            raise ValueError(
                "AUTH_SMTP_USERNAME is set but AUTH_SMTP_SECURITY is none: the password would "
                "cross the network in clear; use starttls or tls."
            )
        if password is not None and not settings.smtp_username:
            raise ValueError("AUTH_SMTP_PASSWORD is set without AUTH_SMTP_USERNAME.")
        sender = settings.smtp_from
        if sender.count("@") != 1 or any(c.isspace() or ord(c) < 32 for c in sender):
            raise ValueError("AUTH_SMTP_FROM must be one address, like no-reply@example.com.")
        self._from = sender
        self._domain = sender.rsplit("@", 1)[1].strip(">") or "localhost"
        self._host = settings.smtp_host
        self._port = settings.smtp_port or _DEFAULT_PORTS[self._security]
        self._username = settings.smtp_username
        self._password = password
        self._timeout = settings.smtp_timeout
        self._render = render
        self._context = tls_context
        if self._context is None and self._security != "none":
            ca_file = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
            self._context = ssl.create_default_context(cafile=ca_file)

    def build(self, message: AccountMessage) -> EmailMessage:
        """Return the email of *message*: From, To, Subject, Date, Message-ID and the text."""
        subject, body = self._render(message)
        email = EmailMessage()
        email["From"] = self._from
        email["To"] = message.to
        email["Subject"] = subject
        email["Date"] = format_datetime(utcnow())
        # Given a domain, make_msgid does no DNS look-up (which would block the loop).
        email["Message-ID"] = make_msgid(domain=self._domain)
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        email.set_content(body)
        return email

    async def __call__(self, message: AccountMessage) -> None:
        """Send *message*; raise aiosmtplib's error when the server refuses or is down."""
        await self._send(
            self.build(message),
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password.get_secret_value() if self._password else None,
            use_tls=self._security == "tls",
            start_tls=self._security == "starttls",
            tls_context=self._context,
            timeout=self._timeout,
        )
