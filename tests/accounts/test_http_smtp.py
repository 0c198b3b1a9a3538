"""The account routes with `SMTPSender`: a real server (STARTTLS and AUTH), and a dead one."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from authmanager.accounts import SMTPSender
from authmanager.testing import test_settings
from tests.accounts import smtp_server
from tests.accounts.http_support import MakeAccountApp, same_bytes
from tests.accounts.smtp_server import Mailbox
from tests.conftest import CreateUser

NEW_PASSWORD = "a passphrase from the mail"
SMTP = {"smtp_host": "127.0.0.1", "smtp_from": "auth@app.example", "smtp_timeout": 5.0}


async def test_reset_link_arrives_by_starttls_and_works(
    make_account_app: MakeAccountApp,
    create_user: CreateUser,
    starttls_server: int,
    mailbox: Mailbox,
    certificate: tuple[Path, Path],
) -> None:
    """/password/forgot mails the link over STARTTLS with AUTH; its token resets the password."""
    settings = test_settings(
        **SMTP,
        smtp_port=starttls_server,
        smtp_security="starttls",
        smtp_ca_file=certificate[0],
        smtp_username=smtp_server.USERNAME,
        smtp_password=smtp_server.PASSWORD,
        reset_password_url="https://app.example/reset#token={token}",
    )
    app = make_account_app(
        sender=SMTPSender(settings), reset_password_url="https://app.example/reset#token={token}"
    )
    await create_user("alice@example.com")
    response = await app.post("/password/forgot", json={"login": "alice@example.com"})
    assert response.status_code == 202
    await app.settle()
    (delivered,) = mailbox.delivered
    assert (delivered.tls, delivered.authenticated) == (True, True)
    assert delivered.rcpt_tos == ["alice@example.com"]
    assert delivered.message["Subject"] == "Reset your password"
    body = delivered.message.get_payload(decode=True).decode()
    found = re.search(r"https://app\.example/reset#token=([A-Za-z0-9_-]+)", body)
    assert found is not None
    reset = await app.post(
        "/password/reset", json={"token": found.group(1), "password": NEW_PASSWORD}
    )
    assert reset.status_code == 200, reset.text
    assert (await app.login("alice@example.com", NEW_PASSWORD)).status_code == 200


async def test_a_dead_smtp_server_changes_nothing_the_requester_sees(
    make_account_app: MakeAccountApp, create_user: CreateUser, caplog: pytest.LogCaptureFixture
) -> None:
    """No server: the same 202 bytes as for an unknown login; logged, message.failed."""
    dead = test_settings(**SMTP, smtp_port=smtp_server.free_port(), smtp_security="none")
    app = make_account_app(sender=SMTPSender(dead))
    user = await create_user("alice@example.com")
    with caplog.at_level(logging.DEBUG, logger="authmanager"):
        known = await app.post("/password/forgot", json={"login": "alice@example.com"})
        unknown = await app.post("/password/forgot", json={"login": "nobody@example.com"})
        await app.settle()
    same_bytes(known, unknown)
    failed = app.events.last("message.failed")
    assert (failed.user_id, failed.reason, failed.extra["error"]) == (
        str(user.id),
        "sender_error",
        "SMTPConnectError",
    )
    assert "SMTPConnectError" in caplog.text
    assert "token=" not in caplog.text
    (row,) = await app.token_rows()
    assert row.token_hash not in caplog.text
