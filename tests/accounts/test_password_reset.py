"""Password reset: no enumeration, background mail, one transaction that ends every session."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import insert

from authmanager import ClientInfo
from authmanager._core.clock import utcnow
from authmanager.accounts import AccountMessage, PasswordPolicyError, Purpose
from authmanager.accounts.tables import action_tokens
from authmanager.exceptions import (
    InvalidCredentialsError,
    InvalidTokenError,
    Reason,
    RevokedTokenError,
)
from tests.accounts.conftest import MakeAccounts
from tests.accounts.support import Accounts, statements
from tests.app import User
from tests.conftest import PASSWORD, CreateUser

NEW_PASSWORD = "a brand new passphrase"
CLIENT = ClientInfo(ip_address="198.51.100.4", user_agent="pytest")


async def request_token(accounts: Accounts, login: str = "alice@example.com") -> str:
    await accounts.service.request_password_reset(login, client=CLIENT)
    await accounts.settle()
    token = accounts.captured.last(Purpose.RESET_PASSWORD).token
    assert token is not None
    return token


async def test_request_mails_a_reset_link_to_the_stored_address(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """An existing login (any case) gets reset_password at its stored address; an event says so."""
    user = await create_user("alice@example.com")
    assert await accounts.service.request_password_reset("Alice@Example.com", client=CLIENT) is None
    await accounts.settle()
    (message,) = accounts.captured.messages
    assert (message.purpose, message.to, message.user_id) == (
        Purpose.RESET_PASSWORD,
        "alice@example.com",
        str(user.id),
    )
    assert message.link == f"http://localhost:8000/reset-password#token={message.token}"
    requested = accounts.events.last("password.reset_requested")
    assert (requested.user_id, requested.client_ip, requested.reason) == (
        str(user.id),
        "198.51.100.4",
        None,
    )


async def test_unknown_login_gets_the_same_answer_and_no_mail(accounts: Accounts) -> None:
    """An unknown login: same None, no token, no mail; the event says user_not_found."""
    assert await accounts.service.request_password_reset("nobody@example.com") is None
    await accounts.settle()
    assert accounts.captured.messages == []
    assert await accounts.token_rows() == []
    event_ = accounts.events.last("password.reset_requested")
    assert (event_.user_id, event_.reason) == (None, Reason.USER_NOT_FOUND)


async def test_inactive_user_gets_no_mail(accounts: Accounts, create_user: CreateUser) -> None:
    """An inactive account is treated as unknown."""
    await create_user("alice@example.com", is_active=False)
    await accounts.service.request_password_reset("alice@example.com")
    await accounts.settle()
    assert accounts.captured.messages == []
    assert await accounts.token_rows() == []


async def test_known_and_unknown_logins_do_the_same_work_before_answering(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """The requester's time holds the same SQL either way; token and mail come after."""
    await create_user("alice@example.com")
    with statements(accounts) as known:
        await accounts.service.request_password_reset("alice@example.com")
    with statements(accounts) as background:
        await accounts.settle()
    with statements(accounts) as unknown:
        await accounts.service.request_password_reset("nobody@example.com")
    assert known == unknown
    assert not any("action_tokens" in s for s in known)
    assert any("INSERT INTO authmanager_action_tokens" in s for s in background)


async def test_a_hanging_sender_never_holds_the_requester(
    make_accounts: MakeAccounts, create_user: CreateUser
) -> None:
    """A sender that hangs: the request returns at once; the timeout is reported later."""
    release = asyncio.Event()
    called: list[AccountMessage] = []

    async def hanging(message: AccountMessage) -> None:
        called.append(message)
        await release.wait()

    accounts = make_accounts(sender=hanging, sender_timeout_seconds=0.3)
    user = await create_user("alice@example.com")
    await accounts.service.request_password_reset("alice@example.com")
    # The answer came before the token was even issued and the sender called.
    assert called == []
    await accounts.settle()
    failed = accounts.events.last("message.failed")
    assert (failed.user_id, failed.reason, failed.extra["purpose"]) == (
        str(user.id),
        "timeout",
        "reset_password",
    )
    release.set()


async def test_reset_stores_the_new_hash_and_ends_every_session(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """reset_password: new password works, old does not, sessions end; returns the count."""
    user = await create_user("alice@example.com")
    first = await accounts.manager.create_token_pair({"sub": str(user.id)})
    second = await accounts.manager.create_token_pair({"sub": str(user.id)})
    token = await request_token(accounts)
    revoked = await accounts.service.reset_password(token, NEW_PASSWORD, client=CLIENT)
    assert revoked == 4
    assert accounts.sessions.reasons == ["password_reset"]
    for pair in (first, second):
        with pytest.raises(RevokedTokenError):
            await accounts.manager.verify_token(pair.access_token)
    assert (await accounts.manager.authenticate("alice@example.com", NEW_PASSWORD)).id == user.id
    with pytest.raises(InvalidCredentialsError):
        await accounts.manager.authenticate("alice@example.com", PASSWORD)
    await accounts.settle()
    done = accounts.events.last("password.reset")
    assert (done.user_id, done.extra["revoked"], done.client_ip) == (
        str(user.id),
        4,
        "198.51.100.4",
    )
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.reset_password(token, "yet another password")
    assert caught.value.reason == Reason.UNKNOWN_TOKEN  # ended with the user's reset tokens


async def test_reset_ends_every_other_reset_token_of_the_user(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """Reset tokens issued in a race (two live at once) all end with the reset."""
    user = await create_user("alice@example.com")
    token = await request_token(accounts)
    racing = "R" * 43
    now = utcnow()
    async with accounts.factory() as db, db.begin():
        await db.execute(
            insert(action_tokens).values(
                token_hash=hashlib.sha256(racing.encode()).hexdigest(),
                user_id=str(user.id),
                purpose="reset_password",
                data={"to": "alice@example.com"},
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    await accounts.service.reset_password(token, NEW_PASSWORD)
    with pytest.raises(InvalidTokenError):
        await accounts.service.reset_password(racing, "another new password")


async def test_weak_new_password_leaves_the_token_usable(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """A password outside the policy: PasswordPolicyError, nothing changed, token still valid."""
    await create_user("alice@example.com")
    token = await request_token(accounts)
    with pytest.raises(PasswordPolicyError) as caught:
        await accounts.service.reset_password(token, "short")
    assert caught.value.rule == "min_length"
    assert (await accounts.manager.authenticate("alice@example.com", PASSWORD)) is not None
    assert await accounts.service.reset_password(token, NEW_PASSWORD) == 0


async def test_bad_token_costs_no_hash_and_changes_nothing(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """An unknown token is refused before the new password is hashed."""
    await create_user("alice@example.com")
    with pytest.raises(InvalidTokenError):
        await accounts.service.reset_password("Z" * 43, NEW_PASSWORD)
    assert accounts.hasher.hashes == 0
    assert (await accounts.manager.authenticate("alice@example.com", PASSWORD)) is not None


async def test_reset_for_a_user_deactivated_since_is_refused(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """The link of a user deactivated after the request does nothing."""
    user = await create_user("alice@example.com")
    token = await request_token(accounts)
    async with accounts.factory() as db, db.begin():
        stored = await db.get(User, user.id)
        assert stored is not None
        stored.is_active = False
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.service.reset_password(token, NEW_PASSWORD)
    assert caught.value.reason == Reason.USER_INACTIVE
    async with accounts.factory() as db:
        stored = await db.get(User, user.id)
        assert stored is not None
        assert accounts.manager.verify_password(PASSWORD, stored.hashed_password)


async def test_concurrent_resets_with_one_token_let_one_through(
    accounts: Accounts, create_user: CreateUser
) -> None:
    """Five resets racing on one token: one succeeds, the others are refused."""
    await create_user("alice@example.com")
    token = await request_token(accounts)
    results = await asyncio.gather(
        *(accounts.service.reset_password(token, f"{NEW_PASSWORD} {i}") for i in range(5)),
        return_exceptions=True,
    )
    winners = [i for i, r in enumerate(results) if isinstance(r, int)]
    assert len(winners) == 1, results
    assert all(isinstance(r, InvalidTokenError) for r in results if not isinstance(r, int))
    winner = f"{NEW_PASSWORD} {winners[0]}"
    assert (await accounts.manager.authenticate("alice@example.com", winner)) is not None
