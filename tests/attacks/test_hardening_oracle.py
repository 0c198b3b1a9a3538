"""Issue 11, item 6: `/login` is no credential oracle.

In 0.1 the 401 for an inactive account said `user_inactive` when the password was
right and `bad_credentials` when it was wrong: a guesser learnt the password of a
disabled account, to try elsewhere. Now every failure (unknown login, wrong
password, inactive user) gets the same status, headers, body and work (one hash
check); which one it was goes to the `login.failed` event only.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager.exceptions import InvalidCredentialsError, Reason
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import PASSWORD, CreateUser, bearer, login
from tests.support.spies import HashSpy

FAILURES = [
    ("nobody@example.com", PASSWORD, "bad_credentials"),
    ("alice@example.com", "wrong password", "bad_credentials"),
    ("off@example.com", "wrong password", "bad_credentials"),
    ("off@example.com", PASSWORD, "user_inactive"),
]
CASES = [
    pytest.param(*case, id=label)
    for case, label in zip(
        FAILURES,
        ["unknown-login", "wrong-password", "inactive-wrong", "inactive-right"],
        strict=True,
    )
]


def _answer(response: httpx.Response) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    headers = tuple(sorted((k, v) for k, v in response.headers.items() if k != "date"))
    return response.status_code, headers, response.content


@pytest.fixture
async def accounts(create_user: CreateUser) -> None:
    await create_user("alice@example.com")
    await create_user("off@example.com", is_active=False)


async def test_every_failed_login_gets_the_same_answer(
    client: httpx.AsyncClient, manager: AuthManager[User], accounts: None, events: CapturingHook
) -> None:
    """Unknown login, wrong password, inactive user with either password: one answer."""
    answers = {}
    for name, password, _ in FAILURES:
        await manager.reset_rate_limits()
        answers[(name, password)] = _answer(await login(client, name, password))
    assert len(set(answers.values())) == 1, answers
    status, headers, body = next(iter(answers.values()))
    assert status == 401
    assert dict(headers)["www-authenticate"] == "Bearer"
    assert body == (
        b'{"detail":"Incorrect login or password.","error":"invalid_grant",'
        b'"error_description":"Incorrect login or password.","reason":"bad_credentials"}'
    )


@pytest.mark.parametrize(("name", "password", "reason"), CASES)
async def test_each_failure_costs_one_hash_and_reports_its_reason_to_hooks_only(
    client: httpx.AsyncClient,
    manager: AuthManager[User],
    accounts: None,
    events: CapturingHook,
    name: str,
    password: str,
    reason: str,
) -> None:
    """The same work (one hash check) whatever failed; the reason is in `login.failed`."""
    spy = HashSpy(manager)
    response = await login(client, name, password)
    assert response.status_code == 401
    assert response.json()["reason"] == "bad_credentials"
    assert spy.calls == 1
    await manager.drain_events()
    failed = events.last(EventName.LOGIN_FAILED)
    assert failed.reason == reason
    assert events.of(EventName.LOGIN_SUCCEEDED) == []


async def test_authenticate_raises_one_error_for_every_failure(
    manager: AuthManager[User], accounts: None, events: CapturingHook
) -> None:
    """The Python API is no oracle either: `reason` is `bad_credentials` for an inactive user."""
    with pytest.raises(InvalidCredentialsError) as caught:
        await manager.authenticate("off@example.com", PASSWORD)
    assert caught.value.reason == Reason.BAD_CREDENTIALS
    await manager.drain_events()
    assert events.last(EventName.LOGIN_FAILED).reason == "user_inactive"


async def test_fresh_answers_the_same_for_an_inactive_user(
    client: httpx.AsyncClient,
    manager: AuthManager[User],
    create_user: CreateUser,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """`/fresh` too: the right password of a deactivated account reads as a wrong one."""
    alice = await create_user("alice@example.com")
    access = (await login(client)).json()["access_token"]
    wrong = await client.post("/auth/fresh", data={"password": "nope"}, headers=bearer(access))
    async with session_factory() as db, db.begin():
        await db.execute(update(User).where(User.id == alice.id).values(is_active=False))
    right = await client.post("/auth/fresh", data={"password": PASSWORD}, headers=bearer(access))
    assert _answer(right) == _answer(wrong)
    assert right.json()["reason"] == "bad_credentials"
