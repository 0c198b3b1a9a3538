"""Sign-in links: no enumeration, one use, a session whose tokens record `amr`."""

from __future__ import annotations

import asyncio

import pytest

from authmanager import ClientInfo, TokenPair
from authmanager.accounts import LOGIN_LINK_AMR, Purpose
from authmanager.exceptions import InvalidTokenError, Reason
from tests.accounts.conftest import MakeAccounts
from tests.accounts.support import Accounts, statements
from tests.conftest import CreateUser

CLIENT = ClientInfo(ip_address="198.51.100.9", user_agent="pytest-browser")


async def link_token(accounts: Accounts, login: str = "alice@example.com") -> str:
    await accounts.service.request_login_link(login, client=CLIENT)
    await accounts.settle()
    token = accounts.captured.last(Purpose.LOGIN_LINK).token
    assert token is not None
    return token


async def test_request_mails_a_link_and_reports_it_sent(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """An existing login gets login_link; login_link.sent follows the delivery."""
    user = await create_user("alice@example.com")
    await link_token(accounts)
    message = accounts.captured.last(Purpose.LOGIN_LINK)
    assert (message.to, message.user_id) == ("alice@example.com", str(user.id))
    assert message.link == f"http://localhost:8000/login-link#token={message.token}"
    sent = accounts.events.last("login_link.sent")
    assert (sent.user_id, sent.client_ip) == (str(user.id), "198.51.100.9")


async def test_unknown_login_gets_no_link_after_the_same_work(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """Unknown login: same answer, same SQL before answering, no mail, no event."""
    await create_user("alice@example.com")
    with statements(accounts) as known:
        assert await accounts.service.request_login_link("alice@example.com") is None
    await accounts.settle()  # the known request's background job runs now, unmeasured
    with statements(accounts) as unknown:
        assert await accounts.service.request_login_link("nobody@example.com") is None
    assert known == unknown
    await accounts.settle()
    assert [m.to for m in accounts.captured.messages] == ["alice@example.com"]
    assert len(accounts.events.of("login_link.sent")) == 1


async def test_link_starts_a_session_whose_tokens_carry_amr(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """login_with_link gives a pair; access and refreshed tokens carry amr ["email"]."""
    user = await create_user("alice@example.com")
    pair = await accounts.service.login_with_link(await link_token(accounts), client=CLIENT)
    assert isinstance(pair, TokenPair)
    payload = await accounts.manager.verify_token(pair.access_token)
    assert (payload.sub, payload["amr"]) == (str(user.id), list(LOGIN_LINK_AMR))
    assert payload["amr"] == ["email"]
    assert payload.get("fresh") is True
    rotated = await accounts.manager.refresh(pair.refresh_token)
    assert (await accounts.manager.verify_token(rotated.access_token))["amr"] == ["email"]
    (info,) = await accounts.manager.list_sessions(str(user.id))
    assert (info.id, info.ip_address, info.user_agent) == (
        pair.session_id,
        "198.51.100.9",
        "pytest-browser",
    )
    await accounts.settle()
    ok = accounts.events.last("login.succeeded")
    assert (ok.user_id, ok.session_id, ok.extra["method"]) == (
        str(user.id),
        pair.session_id,
        "login_link",
    )


async def test_link_works_once(accounts: Accounts, create_user: CreateUser) -> None:
    """A second use of a link is refused and starts no session."""
    user = await create_user("alice@example.com")
    token = await link_token(accounts)
    await accounts.service.login_with_link(token)
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.login_with_link(token)
    assert caught.value.reason == Reason.TOKEN_USED
    assert len(await accounts.manager.list_sessions(str(user.id))) == 1


async def test_concurrent_uses_of_one_link_start_one_session(
    make_accounts_free: Accounts, create_user: CreateUser
) -> None:
    """Ten racing confirmations of one link: one session."""
    accounts = make_accounts_free
    user = await create_user("alice@example.com")
    token = await link_token(accounts)
    results = await asyncio.gather(
        *(accounts.service.login_with_link(token) for _ in range(10)), return_exceptions=True
    )
    assert sum(isinstance(r, TokenPair) for r in results) == 1, results
    assert all(isinstance(r, TokenPair | InvalidTokenError) for r in results), results
    assert len(await accounts.manager.list_sessions(str(user.id))) == 1


async def test_link_verifies_an_unverified_user_when_verification_is_required(
    make_accounts: MakeAccounts, create_user: CreateUser
) -> None:
    """The link proves the mailbox: the user becomes verified and may sign in."""
    accounts = make_accounts(require_verified_email=True)
    await create_user("alice@example.com")
    pair = await accounts.service.login_with_link(await link_token(accounts))
    assert pair.access_token
    stored = await accounts.user_by_email("alice@example.com")
    assert stored is not None
    assert stored.is_verified is True


async def test_link_of_a_deactivated_user_starts_nothing(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """Deactivated after the request: the link is refused."""
    user = await create_user("alice@example.com")
    token = await link_token(accounts)
    async with accounts.factory() as db, db.begin():
        stored = await db.get(type(user), user.id)
        assert stored is not None
        stored.is_active = False
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.login_with_link(token)
    assert caught.value.reason == Reason.USER_INACTIVE
    assert await accounts.manager.list_sessions(str(user.id)) == []


async def test_a_reset_token_is_no_login_link(accounts: Accounts, create_user: CreateUser) -> None:
    """Another purpose's token does not sign in."""
    await create_user("alice@example.com")
    await accounts.service.request_password_reset("alice@example.com")
    await accounts.settle()
    token = accounts.captured.last(Purpose.RESET_PASSWORD).token
    assert token is not None
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.login_with_link(token)
    assert caught.value.reason == Reason.WRONG_TYPE
