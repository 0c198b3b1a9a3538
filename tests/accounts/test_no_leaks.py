"""No token, link or password of the account flows reaches a log line, an event or an error."""

from __future__ import annotations

import logging

import pytest

from authmanager import ClientInfo
from authmanager.accounts import Purpose
from authmanager.exceptions import InvalidTokenError
from tests.accounts.conftest import MakeAccounts
from tests.conftest import CreateUser

NEW_PASSWORD = "leak-check passphrase 42"
CLIENT = ClientInfo(ip_address="192.0.2.1", user_agent="pytest")


async def test_every_flow_keeps_secrets_out_of_logs_and_events(
    make_accounts: MakeAccounts, create_user: CreateUser, caplog: pytest.LogCaptureFixture
) -> None:
    """Run every flow with logging at DEBUG; grep logs and events for every secret."""
    accounts = make_accounts(account_rate_limit="", require_verified_email=True)
    alice = await create_user("alice@example.com")
    with caplog.at_level(logging.DEBUG):
        await accounts.service.register("new@example.com", NEW_PASSWORD, client=CLIENT)
        await accounts.service.register("alice@example.com", NEW_PASSWORD, client=CLIENT)
        await accounts.settle()
        verify = accounts.captured.last(Purpose.VERIFY_EMAIL).token
        assert verify is not None
        await accounts.service.verify_email(verify, client=CLIENT)
        await accounts.service.request_password_reset("alice@example.com", client=CLIENT)
        await accounts.settle()
        reset = accounts.captured.last(Purpose.RESET_PASSWORD).token
        assert reset is not None
        await accounts.service.reset_password(reset, NEW_PASSWORD, client=CLIENT)
        await accounts.service.request_email_change(alice, "alice@new.example", client=CLIENT)
        await accounts.settle()
        change = accounts.captured.last(Purpose.CHANGE_EMAIL).token
        assert change is not None
        await accounts.service.confirm_email_change(change, client=CLIENT)
        await accounts.service.request_login_link("alice@new.example", client=CLIENT)
        await accounts.settle()
        link = accounts.captured.last(Purpose.LOGIN_LINK).token
        assert link is not None
        pair = await accounts.service.login_with_link(link, client=CLIENT)
        with pytest.raises(InvalidTokenError) as caught:
            await accounts.service.login_with_link(link, client=CLIENT)
        await accounts.settle()
    secrets = [verify, reset, change, link, NEW_PASSWORD, pair.access_token, pair.refresh_token]
    secrets += [m.link for m in accounts.captured.messages if m.link]
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    events = repr([e.as_dict() for e in accounts.events.events])
    names = {e.name for e in accounts.events.events}
    assert {
        "account.registered",
        "email.verification_sent",
        "email.verified",
        "password.reset_requested",
        "password.reset",
        "email.change_requested",
        "email.changed",
        "login_link.sent",
    } <= names
    for secret in secrets:
        assert secret not in logged
        assert secret not in events
        assert secret not in str(caught.value)
        assert all(secret not in repr(m) for m in accounts.captured.messages)
