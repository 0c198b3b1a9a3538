"""POST /password/forgot and POST /password/reset over HTTP."""

from __future__ import annotations

import pytest

from authmanager.accounts import Purpose
from tests.accounts.http_support import AccountApp
from tests.conftest import PASSWORD, CreateUser, bearer, csrf_headers

NEW_PASSWORD = "a brand new passphrase 2024"


async def reset_token(app: AccountApp, login: str = "alice@example.com") -> str:
    response = await app.post("/password/forgot", json={"login": login})
    assert response.status_code == 202, response.text
    return await app.token(Purpose.RESET_PASSWORD)


async def test_forgot_sends_a_reset_link_to_the_account(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """202 with the fixed body; reset_password goes to the account; the event follows."""
    user = await create_user("alice@example.com")
    response = await account_app.post("/password/forgot", json={"login": "alice@example.com"})
    assert response.status_code == 202
    assert response.json() == {
        "detail": "If an account uses this login, a password reset link is on its way to it."
    }
    token = await account_app.token(Purpose.RESET_PASSWORD)
    message = account_app.captured.last(Purpose.RESET_PASSWORD)
    assert (message.to, message.user_id) == ("alice@example.com", str(user.id))
    assert message.link == f"http://localhost:8000/reset-password#token={token}"
    assert account_app.events.last("password.reset_requested").user_id == str(user.id)


async def test_reset_sets_the_password_and_ends_every_session(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """200 {detail, revoked}; old password and sessions dead, new password works."""
    await create_user("alice@example.com")
    first = await account_app.access_token("alice@example.com", PASSWORD)
    second = await account_app.access_token("alice@example.com", PASSWORD)
    token = await reset_token(account_app)
    response = await account_app.post(
        "/password/reset", json={"token": token, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "detail": "Your password is changed; every session has ended.",
        "revoked": 4,  # two sessions of an access and a refresh token each
    }
    for access in (first, second):
        assert (await account_app.client.get("/me", headers=bearer(access))).status_code == 401
    refresh = await account_app.post("/refresh", headers=csrf_headers(account_app.client))
    assert refresh.status_code == 401
    assert (await account_app.login("alice@example.com", PASSWORD)).status_code == 401
    assert (await account_app.login("alice@example.com", NEW_PASSWORD)).status_code == 200
    await account_app.settle()
    assert account_app.events.last("password.reset").extra["revoked"] == 4


async def test_reset_token_works_once_and_ends_earlier_ones(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """The used token again: 400 invalid_grant; an earlier link of the user: 400 too."""
    await create_user("alice@example.com")
    earlier = await reset_token(account_app)
    token = await reset_token(account_app)
    body = {"token": token, "password": NEW_PASSWORD}
    assert (await account_app.post("/password/reset", json=body)).status_code == 200
    again = await account_app.post("/password/reset", json=body)
    old = await account_app.post(
        "/password/reset", json={"token": earlier, "password": "yet another passphrase"}
    )
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    assert (old.status_code, old.json()["error"]) == (400, "invalid_grant")
    assert (await account_app.login("alice@example.com", NEW_PASSWORD)).status_code == 200


async def test_reset_leaves_no_reset_token_of_the_user(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """After a reset, no reset_password token of the user is left, used or not."""
    await create_user("alice@example.com")
    alice = await account_app.user("alice@example.com")
    assert alice is not None
    token = await reset_token(account_app)
    body = {"token": token, "password": NEW_PASSWORD}
    assert (await account_app.post("/password/reset", json=body)).status_code == 200
    assert await account_app.token_rows(user_id=str(alice.id), purpose="reset_password") == []


@pytest.mark.parametrize(
    ("password", "rule"),
    [("short", "min_length"), ("x" * 1025, "max_bytes")],
    ids=["short", "long"],
)
async def test_weak_new_password_is_422_and_the_link_still_works(
    account_app: AccountApp, create_user: CreateUser, password: str, rule: str
) -> None:
    """422 naming the rule; the token is not used up, so the user can try again."""
    await create_user("alice@example.com")
    token = await reset_token(account_app)
    weak = await account_app.post("/password/reset", json={"token": token, "password": password})
    assert weak.status_code == 422, weak.text
    assert (weak.json()["reason"], weak.json()["rule"]) == ("password_policy", rule)
    retry = await account_app.post(
        "/password/reset", json={"token": token, "password": NEW_PASSWORD}
    )
    assert retry.status_code == 200, retry.text


async def test_reset_with_a_bad_token_is_400_and_costs_no_hash(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """An unknown token: 400 invalid_grant; the password is unchanged."""
    await create_user("alice@example.com")
    response = await account_app.post(
        "/password/reset", json={"token": "B" * 43, "password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["reason"]) == (
        "invalid_grant",
        "unknown_token",
    )
    assert (await account_app.login("alice@example.com", PASSWORD)).status_code == 200


async def test_forgot_for_an_inactive_account_sends_nothing(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """An inactive user is no account for the anonymous flows: the same 202, no message."""
    await create_user("alice@example.com", is_active=False)
    response = await account_app.post("/password/forgot", json={"login": "alice@example.com"})
    assert response.status_code == 202
    await account_app.settle()
    assert account_app.captured.messages == []
