"""Messages, links, the password policy, addresses, the outbox and the simple senders (no DB)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import threading
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

import authmanager.accounts
from authmanager._core.events import HookDispatcher
from authmanager.accounts import (
    AccountMessage,
    ConsoleSender,
    InvalidAddressError,
    PasswordPolicy,
    PasswordPolicyError,
    Purpose,
    render_text,
)
from authmanager.accounts._messages import LinkTemplates
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._policy import check_address
from authmanager.testing import CapturingHook, CapturingSender, test_settings

TOKEN = "tok_" + "k" * 39
WHEN = datetime(2031, 3, 14, 9, 30, tzinfo=UTC)


def message(purpose: Purpose = Purpose.RESET_PASSWORD) -> AccountMessage:
    return AccountMessage(
        purpose=purpose,
        to="alice@example.com",
        user_id="7",
        link=f"https://app.example/reset#token={TOKEN}",
        token=TOKEN,
        expires_at=WHEN,
    )


def test_public_names_resolve() -> None:
    """Every name of authmanager.accounts.__all__ exists."""
    for name in authmanager.accounts.__all__:
        assert hasattr(authmanager.accounts, name), name


def test_purposes_are_the_contract_strings() -> None:
    """Purpose holds exactly the six contract values."""
    assert [str(p) for p in Purpose] == [
        "verify_email",
        "reset_password",
        "change_email",
        "email_changed",
        "login_link",
        "account_exists",
    ]


def test_message_is_frozen_and_its_repr_hides_token_and_link() -> None:
    """AccountMessage cannot change, and repr shows neither the token nor the link."""
    msg = message()
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.to = "mallory@example.com"  # type: ignore[misc]
    text = repr(msg)
    assert TOKEN not in text
    assert "https://app.example" not in text
    assert "alice@example.com" in text
    assert "reset_password" in text


def test_default_links_put_the_token_in_the_fragment() -> None:
    """Every default template carries the token after '#', out of server logs and Referer."""
    links = LinkTemplates(test_settings())
    for purpose in (
        Purpose.VERIFY_EMAIL,
        Purpose.RESET_PASSWORD,
        Purpose.CHANGE_EMAIL,
        Purpose.LOGIN_LINK,
    ):
        link = links.link(purpose, TOKEN)
        base, _, fragment = link.partition("#")
        assert fragment == f"token={TOKEN}"
        assert TOKEN not in base


def test_custom_template_is_used_and_the_token_escaped() -> None:
    """A configured template gets the token where {token} stands, URL-escaped."""
    links = LinkTemplates(test_settings(reset_password_url="myapp://reset?t={token}&x=1"))
    assert links.link(Purpose.RESET_PASSWORD, "a/b c") == "myapp://reset?t=a%2Fb%20c&x=1"


@pytest.mark.parametrize(
    "template", ["https://app.example/reset", "https://a/{token}#{token}"], ids=["none", "two"]
)
def test_template_without_exactly_one_placeholder_is_refused(template: str) -> None:
    """A template must hold {token} exactly once."""
    with pytest.raises(ValidationError, match="token"):
        test_settings(reset_password_url=template)


def test_plain_http_templates_are_refused_in_production() -> None:
    """In production a link template must not be plain http."""
    prod = {"production": True, "secret_key": "p" * 40}
    with pytest.raises(ValueError, match="http"):
        LinkTemplates(test_settings(**prod))
    https = {
        f"{name}_url": f"https://app.example/{name}#token={{token}}"
        for name in ("verify_email", "reset_password", "change_email", "login_link")
    }
    LinkTemplates(test_settings(**prod, **https))


def test_render_text_holds_the_link_and_the_expiry() -> None:
    """The default text names the purpose, carries the link and when it expires."""
    subject, body = render_text(message())
    assert subject == "Reset your password"
    assert message().link in body
    assert "2031-03-14 09:30 UTC" in body
    notice_subject, notice = render_text(
        AccountMessage(purpose=Purpose.EMAIL_CHANGED, to="old@example.com", user_id="7")
    )
    assert notice_subject == "Your email address was changed"
    assert "expires" not in notice


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("", "min_length"),
        ("1234567", "min_length"),
        ("x" * 1025, "max_bytes"),
        ("\ud800" * 9, "encoding"),
    ],
    ids=["empty", "seven", "too-long", "surrogates"],
)
def test_password_policy_names_the_rule(password: str, rule: str) -> None:
    """Each refusal is a ValueError carrying the broken rule."""
    with pytest.raises(PasswordPolicyError) as caught:
        PasswordPolicy(test_settings()).check(password)
    assert caught.value.rule == rule


def test_password_policy_accepts_passphrases_without_composition_rules() -> None:
    """Length is the rule: lower-case words and non-ASCII text pass."""
    policy = PasswordPolicy(test_settings())
    for password in ("12345678", "correct horse battery staple", "пароль-пароль", "x" * 1024):
        policy.check(password)


def test_password_policy_refuses_an_impossible_configuration() -> None:
    """A minimum above the maximum cannot be met."""
    with pytest.raises(ValueError, match="MIN_LENGTH"):
        PasswordPolicy(test_settings(password_min_length=100, max_password_bytes=64))


@pytest.mark.parametrize(
    "address", ["alice@example.com", "  bob+tag@sub.example.org ", "ünïcode@exämple.com"]
)
def test_address_check_accepts_addresses(address: str) -> None:
    """Ordinary and international addresses pass, stripped."""
    assert check_address(address) == address.strip()


@pytest.mark.parametrize(
    "address", ["", "plain", "a@b@c", "a\x00@example.com", "a@exa\tmple.com", "a\u200b@example.com"]
)
def test_address_check_refuses_what_could_be_abused(address: str) -> None:
    """No @, several, control, white space or invisible format characters are refused."""
    with pytest.raises(InvalidAddressError):
        check_address(address)


def test_console_sender_prints_the_message() -> None:
    """ConsoleSender writes the recipient, the subject and the link."""
    out = io.StringIO()
    ConsoleSender(out)(message())
    text = out.getvalue()
    assert "reset_password to alice@example.com" in text
    assert "Subject: Reset your password" in text
    assert f"https://app.example/reset#token={TOKEN}" in text


async def test_capturing_sender_keeps_messages_in_order() -> None:
    """CapturingSender lists what it got, oldest first, and finds by purpose."""
    sender = CapturingSender()
    first, second = message(Purpose.VERIFY_EMAIL), message(Purpose.LOGIN_LINK)
    await sender(first)
    await sender(second)
    assert sender.messages == [first, second]
    assert sender.last(Purpose.LOGIN_LINK) is second
    with pytest.raises(LookupError):
        sender.last(Purpose.ACCOUNT_EXISTS)
    sender.clear()
    assert sender.messages == []


def outbox(
    sender: object, hook: CapturingHook, timeout: float = 1.0
) -> tuple[Outbox, HookDispatcher]:
    dispatcher = HookDispatcher([hook], timeout=1.0)
    return Outbox(sender, events=dispatcher, timeout=timeout), dispatcher  # type: ignore[arg-type]


async def test_outbox_runs_plain_senders_in_a_thread() -> None:
    """A plain sender is called off the event loop and its success reported as True."""
    seen: list[tuple[AccountMessage, str]] = []

    def plain(msg: AccountMessage) -> None:
        seen.append((msg, threading.current_thread().name))

    box, _ = outbox(plain, CapturingHook())
    assert await box.deliver(message()) is True
    assert seen[0][0] == message()
    assert seen[0][1] != threading.current_thread().name


async def test_failing_sender_is_logged_by_type_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A sender that raises: False, a log line with the type only, a message.failed event."""

    async def broken(msg: AccountMessage) -> None:
        raise ConnectionError(f"could not send {msg.link} with {msg.token}")

    hook = CapturingHook()
    box, dispatcher = outbox(broken, hook)
    with caplog.at_level(logging.DEBUG, logger="authmanager"):
        assert await box.deliver(message()) is False
    await dispatcher.drain()
    failed = hook.last("message.failed")
    assert (failed.user_id, failed.reason) == ("7", "sender_error")
    assert failed.extra == {"purpose": "reset_password", "error": "ConnectionError"}
    assert "ConnectionError" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(failed.as_dict())


async def test_hanging_async_sender_is_abandoned_after_the_timeout() -> None:
    """An async sender that never returns times out and is reported."""
    forever = asyncio.Event()

    async def hanging(msg: AccountMessage) -> None:
        await forever.wait()

    hook = CapturingHook()
    box, dispatcher = outbox(hanging, hook, timeout=0.1)
    assert await box.deliver(message()) is False
    await dispatcher.drain()
    assert hook.last("message.failed").reason == "timeout"


async def test_hanging_plain_sender_is_abandoned_after_the_timeout() -> None:
    """A plain sender blocking its thread times out too; the thread is released afterwards."""
    release = threading.Event()

    def blocking(msg: AccountMessage) -> None:
        release.wait(5)

    hook = CapturingHook()
    box, dispatcher = outbox(blocking, hook, timeout=0.1)
    try:
        assert await box.deliver(message()) is False
    finally:
        release.set()
    await dispatcher.drain()
    assert hook.last("message.failed").reason == "timeout"


async def test_failed_background_job_is_reported_not_raised() -> None:
    """A job that fails (the database down, say) becomes message.failed with its reason."""
    from authmanager.exceptions import TokenStoreUnavailableError

    async def job() -> None:
        raise TokenStoreUnavailableError()

    hook = CapturingHook()
    box, dispatcher = outbox(CapturingSender(), hook)
    box.run(job, purpose=Purpose.LOGIN_LINK, user_id="7")
    await box.drain()
    await dispatcher.drain()
    failed = hook.last("message.failed")
    assert (failed.reason, failed.extra["error"]) == (
        "store_unavailable",
        "TokenStoreUnavailableError",
    )


def test_sender_must_be_callable() -> None:
    """A sender that is not callable is refused at once."""
    with pytest.raises(TypeError, match="callable"):
        Outbox("smtp://", events=HookDispatcher([], timeout=1.0), timeout=1.0)  # type: ignore[arg-type]
