"""POST /verify-email/request and POST /verify-email over HTTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from authmanager._core.clock import utcnow
from authmanager.accounts import Purpose
from authmanager.accounts.tables import action_tokens
from tests.accounts.http_support import AccountApp, MakeAccountApp
from tests.conftest import PASSWORD, CreateUser, bearer


async def requested(app: AccountApp, create_user: CreateUser) -> tuple[str, str]:
    """Alice asks for a verification link; return (her access token, the link's token)."""
    await create_user("alice@example.com")
    access = await app.access_token("alice@example.com", PASSWORD)
    response = await app.post("/verify-email/request", headers=bearer(access))
    assert response.status_code == 202, response.text
    return access, await app.token(Purpose.VERIFY_EMAIL)


async def test_request_needs_a_bearer_token(account_app: AccountApp) -> None:
    """Without an access token: 401 with WWW-Authenticate, nothing sent."""
    response = await account_app.post("/verify-email/request")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    await account_app.settle()
    assert account_app.captured.messages == []


async def test_request_sends_a_link_with_the_token_in_the_fragment(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """202; verify_email goes to the user's address; email.verification_sent follows."""
    _, token = await requested(account_app, create_user)
    message = account_app.captured.last(Purpose.VERIFY_EMAIL)
    assert message.to == "alice@example.com"
    assert message.link == f"http://localhost:8000/verify-email#token={token}"
    alice = await account_app.user("alice@example.com")
    assert alice is not None
    assert account_app.events.last("email.verification_sent").user_id == str(alice.id)


async def test_verify_marks_the_user_verified_once(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """200 and is_verified; the same token again is 400 invalid_grant (token_used)."""
    _, token = await requested(account_app, create_user)
    first = await account_app.post("/verify-email", json={"token": token})
    again = await account_app.post("/verify-email", json={"token": token})
    assert first.status_code == 200, first.text
    assert first.json() == {"detail": "Your email address is verified."}
    alice = await account_app.user("alice@example.com")
    assert alice is not None
    assert alice.is_verified is True
    assert again.status_code == 400
    assert (again.json()["error"], again.json()["reason"]) == ("invalid_grant", "token_used")
    assert "www-authenticate" not in again.headers
    await account_app.settle()
    assert account_app.events.last("email.verified").user_id == str(alice.id)


async def test_verify_with_a_bad_or_foreign_token_is_400(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """Unknown, malformed, or another purpose's token: 400 invalid_grant, nothing changed."""
    await create_user("alice@example.com")
    await account_app.post("/login-link", json={"login": "alice@example.com"})
    link = await account_app.token(Purpose.LOGIN_LINK)
    unknown = await account_app.post("/verify-email", json={"token": "A" * 43})
    malformed = await account_app.post("/verify-email", json={"token": "not a token!"})
    foreign = await account_app.post("/verify-email", json={"token": link})
    for response, reason in [
        (unknown, "unknown_token"),
        (malformed, "malformed"),
        (foreign, "wrong_type"),
    ]:
        assert response.status_code == 400, response.text
        assert (response.json()["error"], response.json()["reason"]) == ("invalid_grant", reason)
    alice = await account_app.user("alice@example.com")
    assert alice is not None
    assert alice.is_verified is False
    # The sign-in link was not used up by the attempt.
    assert (await account_app.post("/login-link/confirm", json={"token": link})).status_code == 200


async def test_verify_with_an_expired_token_is_400_expired(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """A token past its expiry (its row's expiry moved back): 400 invalid_grant, expired."""
    _, token = await requested(account_app, create_user)
    async with account_app.factory.begin() as db:
        await db.execute(update(action_tokens).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = await account_app.post("/verify-email", json={"token": token})
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["reason"]) == ("invalid_grant", "expired")


async def test_failed_confirmations_are_limited_per_ip(
    make_account_app: MakeAccountApp,
) -> None:
    """Guessing tokens: after AUTH_ACCOUNT_RATE_LIMIT failures from one IP, 429."""
    app = make_account_app(account_rate_limit="3/15 minutes")
    answers = [
        (await app.post("/verify-email", json={"token": f"{i:043d}"})).status_code for i in range(4)
    ]
    assert answers == [400, 400, 400, 429]


async def test_a_new_request_ends_the_earlier_link(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """Asking twice: only the newest link works."""
    access, first = await requested(account_app, create_user)
    await account_app.post("/verify-email/request", headers=bearer(access))
    second = await account_app.token(Purpose.VERIFY_EMAIL)
    old = await account_app.post("/verify-email", json={"token": first})
    new = await account_app.post("/verify-email", json={"token": second})
    assert (old.status_code, new.status_code) == (400, 200)
