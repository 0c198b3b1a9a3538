"""POST /login-link and POST /login-link/confirm over HTTP."""

from __future__ import annotations

import jwt

from authmanager.accounts import Purpose
from authmanager.testing import TEST_SECRET
from tests.accounts.http_support import AccountApp, MakeAccountApp
from tests.conftest import CreateUser, bearer, csrf_headers


async def link_token(app: AccountApp, login: str = "alice@example.com") -> str:
    response = await app.post("/login-link", json={"login": login})
    assert response.status_code == 202, response.text
    return await app.token(Purpose.LOGIN_LINK)


def claims(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(
        token, TEST_SECRET, algorithms=["HS256"], options={"verify_aud": False}
    )
    return decoded


async def test_link_request_sends_a_sign_in_link(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """202 with the fixed body; login_link to the account; login_link.sent follows."""
    user = await create_user("alice@example.com")
    token = await link_token(account_app)
    message = account_app.captured.last(Purpose.LOGIN_LINK)
    assert (message.to, message.user_id) == ("alice@example.com", str(user.id))
    assert message.link == f"http://localhost:8000/login-link#token={token}"
    assert account_app.events.last("login_link.sent").user_id == str(user.id)


async def test_confirm_answers_like_login_with_amr_email(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """200: the /login token response and refresh cookie; every token carries amr [email]."""
    user = await create_user("alice@example.com")
    response = await account_app.post(
        "/login-link/confirm", json={"token": await link_token(account_app)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert response.headers["cache-control"] == "no-store"
    assert "refresh_token" in account_app.client.cookies
    access = claims(body["access_token"])
    assert (access["sub"], access["amr"], access["fresh"]) == (str(user.id), ["email"], True)
    me = await account_app.client.get("/me", headers=bearer(body["access_token"]))
    assert me.json() == {"id": user.id, "email": "alice@example.com"}
    refreshed = await account_app.post("/refresh", headers=csrf_headers(account_app.client))
    assert refreshed.status_code == 200, refreshed.text
    assert claims(refreshed.json()["access_token"])["amr"] == ["email"]
    (session,) = await account_app.manager.list_sessions(str(user.id))
    assert session.id == access["sid"]


async def test_confirm_with_a_used_token_is_400_and_starts_nothing(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """A link works once: again is 400 invalid_grant, no second session, no cookie."""
    user = await create_user("alice@example.com")
    token = await link_token(account_app)
    assert (await account_app.post("/login-link/confirm", json={"token": token})).status_code == 200
    account_app.client.cookies.clear()
    again = await account_app.post("/login-link/confirm", json={"token": token})
    assert again.status_code == 400
    assert (again.json()["error"], again.json()["reason"]) == ("invalid_grant", "token_used")
    assert "set-cookie" not in again.headers
    assert len(await account_app.manager.list_sessions(str(user.id))) == 1


async def test_confirm_from_another_site_is_refused(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """Cross-site (Origin of another site, or Sec-Fetch-Site): 403, the link still works."""
    user = await create_user("alice@example.com")
    token = await link_token(account_app)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = await account_app.post(
            "/login-link/confirm", json={"token": token}, headers=headers
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["reason"] == "csrf"
        assert "set-cookie" not in refused.headers
    assert await account_app.manager.list_sessions(str(user.id)) == []
    same_site = await account_app.post(
        "/login-link/confirm",
        json={"token": token},
        headers={"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert same_site.status_code == 200, same_site.text


async def test_confirm_marks_an_unverified_user_verified(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """With verification required, the link proves the mailbox: 200, and verified."""
    app = make_account_app(require_verified_email=True)
    await create_user("alice@example.com")
    response = await app.post("/login-link/confirm", json={"token": await link_token(app)})
    assert response.status_code == 200, response.text
    alice = await app.user("alice@example.com")
    assert alice is not None
    assert alice.is_verified is True


async def test_body_transport_gives_the_refresh_token_in_the_body(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """refresh_token_transport=body: the refresh token is in the answer, no cookie."""
    app = make_account_app(refresh_token_transport="body")
    await create_user("alice@example.com")
    response = await app.post("/login-link/confirm", json={"token": await link_token(app)})
    assert response.status_code == 200, response.text
    assert claims(response.json()["refresh_token"])["amr"] == ["email"]
    assert "refresh_token" not in app.client.cookies
