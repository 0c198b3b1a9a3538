"""Over HTTP: no token, link or password reaches a log line, an event or an error answer."""

from __future__ import annotations

import logging

import pytest

from authmanager.accounts import Purpose
from tests.accounts.http_support import MakeAccountApp
from tests.conftest import PASSWORD, CreateUser, bearer

NEW_PASSWORD = "leak-check passphrase 42"


async def test_every_route_keeps_secrets_out_of_logs_events_and_errors(
    make_account_app: MakeAccountApp, create_user: CreateUser, caplog: pytest.LogCaptureFixture
) -> None:
    """Every account route, logging at DEBUG: no secret in the logs, events or error bodies."""
    app = make_account_app(account_rate_limit="", require_verified_email=True)
    await create_user("alice@example.com")
    answers = []
    with caplog.at_level(logging.DEBUG):
        post = app.post
        answers.append(
            await post("/register", json={"login": "n@example.com", "password": NEW_PASSWORD})
        )
        answers.append(
            await post("/register", json={"login": "n@example.com", "password": "short"})
        )
        verify = await app.token(Purpose.VERIFY_EMAIL)
        answers.append(await post("/verify-email", json={"token": verify}))
        answers.append(await post("/verify-email", json={"token": verify}))  # used: 400
        await app.manager.request_login_link("alice@example.com")
        first_link = await app.token(Purpose.LOGIN_LINK)
        answers.append(await post("/login-link/confirm", json={"token": first_link}))
        access = answers[-1].json()["access_token"]
        answers.append(await post("/verify-email/request", headers=bearer(access)))
        answers.append(await post("/password/forgot", json={"login": "alice@example.com"}))
        reset = await app.token(Purpose.RESET_PASSWORD)
        answers.append(await post("/password/reset", json={"token": reset, "password": "x"}))
        answers.append(
            await post("/password/reset", json={"token": reset, "password": NEW_PASSWORD})
        )
        fresh = await app.access_token("alice@example.com", NEW_PASSWORD)
        answers.append(
            await post("/email/change", json={"new_login": "a@new.example"}, headers=bearer(fresh))
        )
        change = await app.token(Purpose.CHANGE_EMAIL)
        answers.append(await post("/email/confirm", json={"token": change}))
        answers.append(await post("/email/confirm", json={"token": change}))  # used: 400
        answers.append(await post("/login-link", json={"login": "a@new.example"}))
        link = await app.token(Purpose.LOGIN_LINK)
        answers.append(await post("/login-link/confirm", json={"token": link}))
        answers.append(await post("/login-link/confirm", json={"token": link}))  # used: 400
        await app.settle()
    assert [a.status_code for a in answers] == [
        202, 422, 200, 400, 200, 202, 202, 422, 200, 202, 200, 400, 202, 200, 400
    ]  # fmt: skip
    secrets = [verify, first_link, reset, change, link, NEW_PASSWORD, PASSWORD, access, fresh]
    secrets += [m.link for m in app.captured.messages if m.link]
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    events = repr([e.as_dict() for e in app.events.events])
    errors = "".join(a.text for a in answers if a.status_code >= 400)
    for secret in secrets:
        assert secret not in logged
        assert secret not in events
        assert secret not in errors
    names = {e.name for e in app.events.events}
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
