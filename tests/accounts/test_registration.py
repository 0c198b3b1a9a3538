"""Registration, email verification and the verified-email login rule."""

from __future__ import annotations

from datetime import timedelta

import pytest

from authmanager.accounts import (
    EmailNotVerifiedError,
    InvalidAddressError,
    LoginTakenError,
    PasswordPolicyError,
    Purpose,
)
from authmanager.exceptions import InvalidTokenError, Reason
from authmanager.loaders import SQLAlchemyUserLoader
from tests.accounts.conftest import MakeAccounts
from tests.accounts.support import Accounts
from tests.app import User
from tests.conftest import PASSWORD, CreateUser

NEW = "new@example.com"
_HOUR = timedelta(hours=1)


async def test_register_creates_the_user_with_a_hash_of_the_password(accounts: Accounts) -> None:
    """register stores the login and a hash that verifies; event account.registered; no mail."""
    user = await accounts.service.register(NEW, PASSWORD, fields={"display_name": "New"})
    assert user is not None
    await accounts.settle()
    stored = await accounts.user_by_email(NEW)
    assert stored is not None
    assert stored.id == user.id
    assert stored.display_name == "New"
    assert stored.is_verified is False
    assert stored.hashed_password != PASSWORD
    assert accounts.manager.verify_password(PASSWORD, stored.hashed_password)
    assert accounts.hasher.hashes == 1
    event = accounts.events.last("account.registered")
    assert event.user_id == str(user.id)
    assert accounts.captured.messages == []


async def test_taken_login_raises_login_taken_and_stores_nothing(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """Without verification required, a taken login (any case) is a LoginTakenError."""
    await create_user("alice@example.com")
    with pytest.raises(LoginTakenError) as caught:
        await accounts.service.register("ALICE@example.com", PASSWORD)
    assert caught.value.reason == Reason.LOGIN_TAKEN
    assert await accounts.count_users() == 1
    await accounts.settle()
    assert accounts.captured.messages == []


async def test_with_verification_required_a_new_account_gets_a_link(
    make_accounts: MakeAccounts,
) -> None:
    """Verification required: the new address gets verify_email with the token in the fragment."""
    accounts = make_accounts(require_verified_email=True)
    user = await accounts.service.register(NEW, PASSWORD)
    assert user is not None
    await accounts.settle()
    message = accounts.captured.last(Purpose.VERIFY_EMAIL)
    assert (message.to, message.user_id) == (NEW, str(user.id))
    assert message.token is not None
    assert message.link == f"http://localhost:8000/verify-email#token={message.token}"
    assert message.expires_at is not None
    assert accounts.events.last("email.verification_sent").user_id == str(user.id)


async def test_with_verification_required_a_taken_login_tells_its_owner(
    make_accounts: MakeAccounts, create_user: CreateUser
) -> None:
    """Verification required: a taken login raises nothing; its owner gets account_exists."""
    accounts = make_accounts(require_verified_email=True)
    owner = await create_user("alice@example.com")
    assert await accounts.service.register("alice@example.com", "another password") is None
    await accounts.settle()
    assert await accounts.count_users() == 1
    (message,) = accounts.captured.messages
    assert (message.purpose, message.to, message.user_id) == (
        Purpose.ACCOUNT_EXISTS,
        "alice@example.com",
        str(owner.id),
    )
    assert (message.token, message.link, message.expires_at) == (None, None, None)
    assert await accounts.token_rows() == []
    # The same work as a new registration: the password was hashed all the same.
    assert accounts.hasher.hashes == 1
    assert accounts.events.of("account.registered") == []


@pytest.mark.parametrize(
    ("password", "rule"),
    [("short", "min_length"), ("x" * 1025, "max_bytes"), ("é" * 600, "max_bytes")],
    ids=["short", "long", "long-in-bytes"],
)
async def test_weak_password_names_the_rule_and_stores_nothing(
    accounts: Accounts, password: str, rule: str
) -> None:
    """A password outside the policy raises PasswordPolicyError (a ValueError) with its rule."""
    with pytest.raises(PasswordPolicyError) as caught:
        await accounts.service.register(NEW, password)
    assert isinstance(caught.value, ValueError)
    assert caught.value.rule == rule
    assert password not in str(caught.value)
    assert await accounts.count_users() == 0
    assert accounts.hasher.hashes == 0


async def test_minimum_length_follows_the_setting(make_accounts: MakeAccounts) -> None:
    """AUTH_PASSWORD_MIN_LENGTH moves the bound."""
    accounts = make_accounts(password_min_length=12)
    with pytest.raises(PasswordPolicyError, match="12 characters"):
        await accounts.service.register(NEW, "elevenchars")
    assert await accounts.service.register(NEW, "twelve chars") is not None


@pytest.mark.parametrize(
    "login",
    [
        "no-at-sign",
        "two@@example.com",
        "@example.com",
        "alice@",
        "alice@example.com\r\nBcc: victim@example.com",
        "ali ce@example.com",
        "alice\u202e@example.com",
        "a" * 65 + "@example.com",
        "alice@" + "d" * 250 + ".com",
    ],
    ids=[
        "no-at",
        "two-at",
        "no-local",
        "no-domain",
        "header-injection",
        "space",
        "bidi",
        "long-local",
        "long",
    ],
)
async def test_login_that_is_no_address_is_refused(accounts: Accounts, login: str) -> None:
    """A login messages cannot safely go to raises InvalidAddressError; nothing is stored."""
    with pytest.raises(InvalidAddressError):
        await accounts.service.register(login, PASSWORD)
    assert await accounts.count_users() == 0


@pytest.mark.parametrize(
    "fields",
    [{"is_active": False}, {"is_verified": True}, {"role": "admin"}, {"display_name": 5}],
    ids=["is_active", "is_verified", "role", "wrong-type"],
)
async def test_fields_outside_the_allowed_ones_are_refused(
    accounts: Accounts, fields: dict[str, object]
) -> None:
    """Registration cannot set what the loader does not allow (no mass assignment)."""
    with pytest.raises(ValueError, match="field"):
        await accounts.service.register(NEW, PASSWORD, fields=fields)
    assert await accounts.count_users() == 0


async def test_register_needs_create_user(make_accounts: MakeAccounts) -> None:
    """A loader without create_user: register says what is missing."""

    class NoCreate(SQLAlchemyUserLoader[User]):
        def __init__(self) -> None:
            super().__init__(User)
            del self.create_user

    accounts = make_accounts(users=NoCreate())
    assert accounts.service.can_register is False
    with pytest.raises(TypeError, match="create_user"):
        await accounts.service.register(NEW, PASSWORD)


async def test_verify_email_marks_the_user_verified_once(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """request_email_verification mails a link; verify_email marks the user; the link works once."""
    user = await create_user("alice@example.com")
    await accounts.service.request_email_verification(user)
    await accounts.settle()
    token = accounts.captured.last(Purpose.VERIFY_EMAIL).token
    assert token is not None
    verified = await accounts.service.verify_email(token)
    assert verified.id == user.id
    assert verified.is_verified is True
    stored = await accounts.user_by_email("alice@example.com")
    assert stored is not None
    assert stored.is_verified is True
    await accounts.settle()
    assert accounts.events.last("email.verified").user_id == str(user.id)
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.verify_email(token)
    assert caught.value.reason == Reason.TOKEN_USED


async def test_verification_of_a_verified_user_sends_nothing(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """A user already verified gets no new link."""
    user = await create_user("alice@example.com")
    user.is_verified = True
    await accounts.service.request_email_verification(user)
    await accounts.settle()
    assert accounts.captured.messages == []


async def test_verify_link_for_an_address_no_longer_the_users_is_refused(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """A link mailed to the old address does not verify the new one."""
    user = await create_user("alice@example.com")
    await accounts.service.request_email_verification(user)
    await accounts.settle()
    token = accounts.captured.last(Purpose.VERIFY_EMAIL).token
    assert token is not None
    async with accounts.factory() as db, db.begin():
        await accounts.users.set_login(db, user, "other@example.com")
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.verify_email(token)
    assert caught.value.reason == Reason.REVOKED
    stored = await accounts.user_by_email("other@example.com")
    assert stored is not None
    assert stored.is_verified is False


async def test_other_purpose_token_does_not_verify(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """A reset link is no verification link."""
    user = await create_user("alice@example.com")
    token = await accounts.tokens.create(str(user.id), Purpose.RESET_PASSWORD, expires_in=_HOUR)
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.verify_email(token)
    assert caught.value.reason == Reason.WRONG_TYPE


async def test_require_verified_email_refuses_unverified_users(
    make_accounts: MakeAccounts, create_user: CreateUser
) -> None:
    """check_login raises EmailNotVerifiedError (reason email_not_verified) until verified."""
    accounts = make_accounts(require_verified_email=True)
    user = await create_user("alice@example.com")
    with pytest.raises(EmailNotVerifiedError) as caught:
        accounts.service.check_login(user)
    assert caught.value.reason == Reason.EMAIL_NOT_VERIFIED
    user.is_verified = True
    accounts.service.check_login(user)


async def test_verification_not_required_lets_unverified_users_in(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """By default an unverified user may log in."""
    accounts.service.check_login(await create_user("alice@example.com"))


def test_required_verification_without_set_verified_is_refused_at_construction(
    make_accounts: MakeAccounts,
) -> None:
    """AUTH_REQUIRE_VERIFIED_EMAIL with a loader that cannot verify fails at start-up."""

    class NoVerify(SQLAlchemyUserLoader[User]):
        def __init__(self) -> None:
            super().__init__(User)
            del self.set_verified

    with pytest.raises(TypeError, match="set_verified"):
        make_accounts(users=NoVerify(), require_verified_email=True)
