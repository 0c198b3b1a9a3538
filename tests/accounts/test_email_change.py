"""Email change: confirmation at the new address, a notice to the old one, no takeover."""

from __future__ import annotations

import pytest

from authmanager.accounts import InvalidAddressError, LoginTakenError, Purpose
from authmanager.exceptions import InvalidTokenError, Reason
from tests.accounts.support import Accounts
from tests.app import User
from tests.conftest import CreateUser

OLD, NEW = "alice@example.com", "alice@new.example"


async def change_token(accounts: Accounts, user: User, new: str = NEW) -> str:
    await accounts.service.request_email_change(user, new)
    await accounts.settle()
    token = accounts.captured.last(Purpose.CHANGE_EMAIL).token
    assert token is not None
    return token


async def test_request_mails_the_new_address_only(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """change_email goes to the new address; nothing changes until it is confirmed."""
    user = await create_user(OLD)
    await accounts.service.request_email_change(user, NEW)
    await accounts.settle()
    (message,) = accounts.captured.messages
    assert (message.purpose, message.to, message.user_id) == (
        Purpose.CHANGE_EMAIL,
        NEW,
        str(user.id),
    )
    assert message.link == f"http://localhost:8000/confirm-email#token={message.token}"
    assert await accounts.user_by_email(OLD) is not None
    assert await accounts.user_by_email(NEW) is None
    requested = accounts.events.last("email.change_requested")
    assert (requested.user_id, requested.reason) == (str(user.id), None)


async def test_confirm_changes_the_login_verifies_it_and_tells_the_old_address(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """Confirming: set_login, set_verified, email_changed to the old address, event."""
    user = await create_user(OLD)
    token = await change_token(accounts, user)
    changed = await accounts.service.confirm_email_change(token)
    assert (changed.id, changed.email, changed.is_verified) == (user.id, NEW, True)
    assert await accounts.user_by_email(OLD) is None
    stored = await accounts.user_by_email(NEW)
    assert stored is not None
    assert (stored.id, stored.is_verified) == (user.id, True)
    await accounts.settle()
    notice = accounts.captured.last(Purpose.EMAIL_CHANGED)
    assert (notice.to, notice.user_id, notice.token, notice.link) == (OLD, str(user.id), None, None)
    assert accounts.events.last("email.changed").user_id == str(user.id)
    with pytest.raises(InvalidTokenError):
        await accounts.service.confirm_email_change(token)


async def test_confirm_ends_the_links_sent_to_the_old_address(
    make_accounts_free: Accounts, create_user: CreateUser
) -> None:
    """A reset link mailed to the old address stops working once the address changed."""
    accounts = make_accounts_free
    user = await create_user(OLD)
    await accounts.service.request_password_reset(OLD)
    await accounts.settle()
    reset = accounts.captured.last(Purpose.RESET_PASSWORD).token
    assert reset is not None
    await accounts.service.confirm_email_change(await change_token(accounts, user))
    with pytest.raises(InvalidTokenError):
        await accounts.service.reset_password(reset, "a brand new passphrase")


async def test_taken_address_gets_account_exists_instead(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """A new address another account holds: no link; its owner is told; same answer."""
    user = await create_user(OLD)
    holder = await create_user(NEW)
    assert await accounts.service.request_email_change(user, NEW.upper()) is None
    await accounts.settle()
    (message,) = accounts.captured.messages
    assert (message.purpose, message.to, message.user_id) == (
        Purpose.ACCOUNT_EXISTS,
        NEW.upper(),
        str(holder.id),
    )
    assert await accounts.token_rows() == []
    requested = accounts.events.last("email.change_requested")
    assert (requested.user_id, requested.reason) == (str(user.id), Reason.LOGIN_TAKEN)


async def test_address_taken_before_confirmation_is_refused(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """Another account took the address meanwhile: LoginTakenError, nothing changed."""
    user = await create_user(OLD)
    token = await change_token(accounts, user)
    await create_user(NEW)
    with pytest.raises(LoginTakenError):
        await accounts.service.confirm_email_change(token)
    stored = await accounts.user_by_email(OLD)
    assert stored is not None
    assert stored.id == user.id
    assert [r.used_at for r in await accounts.token_rows(purpose="change_email")] == [None]


async def test_change_requested_from_an_address_since_replaced_is_refused(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """The login changed by other means after the request: the old request does nothing."""
    user = await create_user(OLD)
    token = await change_token(accounts, user)
    async with accounts.factory() as db, db.begin():
        await accounts.users.set_login(db, user, "third@example.com")
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.confirm_email_change(token)
    assert caught.value.reason == Reason.REVOKED
    assert await accounts.user_by_email(NEW) is None


@pytest.mark.parametrize(
    "new",
    [OLD, OLD.upper(), "not an address", "x@example.com\r\nBcc: y@example.com"],
    ids=["same", "same-case", "no-address", "header-injection"],
)
async def test_bad_new_address_is_refused(
    accounts: Accounts, create_user: CreateUser, new: str
) -> None:
    """The current address or text that is no address raises InvalidAddressError."""
    user = await create_user(OLD)
    with pytest.raises(InvalidAddressError):
        await accounts.service.request_email_change(user, new)
    await accounts.settle()
    assert accounts.captured.messages == []
