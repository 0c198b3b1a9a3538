"""SMTPSender against a real SMTP server in the test process: plain, STARTTLS, TLS, failures."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from authmanager.accounts import AccountMessage, Purpose, SMTPSender
from authmanager.testing import test_settings
from tests.accounts import smtp_server
from tests.accounts.conftest import MakeAccounts, running
from tests.accounts.smtp_server import ImplicitTLSController, Mailbox
from tests.conftest import CreateUser

TOKEN = "T" * 43
MESSAGE = AccountMessage(
    purpose=Purpose.RESET_PASSWORD,
    to="alice@example.com",
    user_id="7",
    link=f"https://app.example/reset#token={TOKEN}",
    token=TOKEN,
    expires_at=datetime(2031, 3, 14, 9, 30, tzinfo=UTC),
)


@pytest.fixture
def tls_server(mailbox: Mailbox, certificate: tuple[Path, Path]) -> Iterator[int]:
    """An SMTPS server: TLS from the first byte."""
    port = smtp_server.free_port()
    client = ssl.create_default_context(cafile=str(certificate[0]))
    yield from running(
        ImplicitTLSController(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            ssl_context=smtp_server.server_context(*certificate),
            client_context=client,
        )
    )


def settings(port: int, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_from": "auth@app.example",
        "smtp_timeout": 5.0,
    }
    values.update(overrides)
    return test_settings(**values)


def check_delivered(mailbox: Mailbox) -> smtp_server.Delivered:
    (delivered,) = mailbox.delivered
    assert delivered.mail_from == "auth@app.example"
    assert delivered.rcpt_tos == ["alice@example.com"]
    email = delivered.message
    assert email["From"] == "auth@app.example"
    assert email["To"] == "alice@example.com"
    assert email["Subject"] == "Reset your password"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["Message-ID"].endswith("@app.example>")
    body = email.get_payload(decode=True).decode()
    assert f"https://app.example/reset#token={TOKEN}" in body
    return delivered


async def test_plain_delivery(plain_server: int, mailbox: Mailbox) -> None:
    """security none: the message arrives with its headers and link."""
    await SMTPSender(settings(plain_server, smtp_security="none"))(MESSAGE)
    assert check_delivered(mailbox).tls is False


async def test_starttls_delivery_with_authentication(
    starttls_server: int, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    """starttls: the upgrade happens, the certificate is verified, AUTH succeeds."""
    sender = SMTPSender(
        settings(
            starttls_server,
            smtp_security="starttls",
            smtp_ca_file=certificate[0],
            smtp_username=smtp_server.USERNAME,
            smtp_password=smtp_server.PASSWORD,
        )
    )
    await sender(MESSAGE)
    delivered = check_delivered(mailbox)
    assert (delivered.tls, delivered.authenticated) == (True, True)


async def test_implicit_tls_delivery(
    tls_server: int, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    """tls: the connection is TLS from the start."""
    await SMTPSender(settings(tls_server, smtp_security="tls", smtp_ca_file=certificate[0]))(
        MESSAGE
    )
    assert check_delivered(mailbox).tls is True


async def test_untrusted_certificate_is_refused(starttls_server: int, mailbox: Mailbox) -> None:
    """Without the CA of the server's certificate, the sender refuses to talk."""
    sender = SMTPSender(
        settings(
            starttls_server,
            smtp_username=smtp_server.USERNAME,
            smtp_password=smtp_server.PASSWORD,
        )
    )
    with pytest.raises((ssl.SSLError, aiosmtplib.SMTPException)):
        await sender(MESSAGE)
    assert mailbox.delivered == []


async def test_wrong_password_is_refused(
    starttls_server: int, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    """A refused AUTH raises and delivers nothing."""
    sender = SMTPSender(
        settings(
            starttls_server,
            smtp_ca_file=certificate[0],
            smtp_username=smtp_server.USERNAME,
            smtp_password="wrong",
        )
    )
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await sender(MESSAGE)
    assert mailbox.delivered == []


def test_credentials_over_plain_text_are_refused() -> None:
    """A user name with security none would send the password in clear: refused at once."""
    with pytest.raises(ValueError, match="in clear"):
        SMTPSender(settings(25, smtp_security="none", smtp_username="u", smtp_password="p"))
    with pytest.raises(ValueError, match="USERNAME"):
        SMTPSender(settings(25, smtp_password="p"))
    with pytest.raises(ValueError, match="SMTP_FROM"):
        SMTPSender(settings(25, smtp_from="two words@example.com"))


def test_smtp_password_stays_out_of_reprs() -> None:
    """The SMTP password is a SecretStr: the settings' repr does not show it."""
    configured = settings(25, smtp_username="u", smtp_password="hunter2-smtp")
    assert "hunter2-smtp" not in repr(configured)


async def test_dead_server_is_logged_and_reported_and_the_requester_unaffected(
    make_accounts: MakeAccounts, create_user: CreateUser, caplog: pytest.LogCaptureFixture
) -> None:
    """No server listening: the reset request answers as usual; the failure is logged by
    type and reported as message.failed; no token reaches the logs or the events."""
    dead = settings(smtp_server.free_port(), smtp_security="none", smtp_timeout=2.0)
    accounts = make_accounts(sender=SMTPSender(dead))
    user = await create_user("alice@example.com")
    with caplog.at_level(logging.DEBUG, logger="authmanager"):
        assert await accounts.service.request_password_reset("alice@example.com") is None
        await accounts.settle()
    failed = accounts.events.last("message.failed")
    assert (failed.user_id, failed.reason, failed.extra["purpose"]) == (
        str(user.id),
        "sender_error",
        "reset_password",
    )
    assert failed.extra["error"] == "SMTPConnectError"
    assert "SMTPConnectError" in caplog.text
    (row,) = await accounts.token_rows()
    assert row.token_hash not in caplog.text
    assert "token=" not in caplog.text
    assert accounts.events.of("password.reset_requested")
