"""POST /email/change and POST /email/confirm over HTTP."""

from __future__ import annotations

from authmanager.accounts import Purpose
from tests.accounts.http_support import AccountApp, same_bytes
from tests.conftest import PASSWORD, CreateUser, bearer, csrf_headers

NEW = "alice@new.example"


async def change(app: AccountApp, access: str, new_login: str = NEW) -> None:
    response = await app.post(
        "/email/change", json={"new_login": new_login}, headers=bearer(access)
    )
    assert response.status_code == 202, response.text
    await app.settle()


async def test_change_needs_a_fresh_login(account_app: AccountApp, create_user: CreateUser) -> None:
    """An access token minted by a refresh is not fresh: 401 not_fresh, nothing sent."""
    await create_user("alice@example.com")
    await account_app.login("alice@example.com", PASSWORD)
    refreshed = await account_app.post("/refresh", headers=csrf_headers(account_app.client))
    stale = refreshed.json()["access_token"]
    response = await account_app.post(
        "/email/change", json={"new_login": NEW}, headers=bearer(stale)
    )
    anonymous = await account_app.post("/email/change", json={"new_login": NEW})
    assert (response.status_code, response.json()["reason"]) == (401, "not_fresh")
    assert anonymous.status_code == 401
    await account_app.settle()
    assert account_app.captured.messages == []


async def test_change_then_confirm_moves_the_login_and_tells_the_old_address(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """The link goes to the new address; confirming makes it the login, verified."""
    user = await create_user("alice@example.com")
    await change(account_app, await account_app.access_token("alice@example.com", PASSWORD))
    link = account_app.captured.last(Purpose.CHANGE_EMAIL)
    assert link.to == NEW
    assert account_app.events.last("email.change_requested").user_id == str(user.id)
    confirmed = await account_app.post("/email/confirm", json={"token": link.token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"detail": "Your email address is changed."}
    moved = await account_app.user(NEW)
    assert moved is not None
    assert (moved.id, moved.is_verified) == (user.id, True)
    assert await account_app.user("alice@example.com") is None
    assert (await account_app.login(NEW, PASSWORD)).status_code == 200
    assert (await account_app.login("alice@example.com", PASSWORD)).status_code == 401
    await account_app.settle()
    notice = account_app.captured.last(Purpose.EMAIL_CHANGED)
    assert (notice.to, notice.token, notice.link) == ("alice@example.com", None, None)
    assert account_app.events.last("email.changed").user_id == str(user.id)


async def test_change_to_a_taken_address_answers_the_same_and_warns_its_owner(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """A taken address: the same 202 as a free one; its owner gets account_exists, no link."""
    await create_user("alice@example.com")
    bob = await create_user("bob@example.com")
    access = await account_app.access_token("alice@example.com", PASSWORD)
    free = await account_app.post("/email/change", json={"new_login": NEW}, headers=bearer(access))
    taken = await account_app.post(
        "/email/change", json={"new_login": "bob@example.com"}, headers=bearer(access)
    )
    same_bytes(free, taken)
    await account_app.settle()
    warned = account_app.captured.last(Purpose.ACCOUNT_EXISTS)
    assert (warned.to, warned.user_id, warned.token) == ("bob@example.com", str(bob.id), None)
    assert [m.to for m in account_app.captured.of(Purpose.CHANGE_EMAIL)] == [NEW]


async def test_change_to_a_malformed_or_same_address_is_422(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """Not an address, or the current one: 422 invalid_address."""
    await create_user("alice@example.com")
    access = await account_app.access_token("alice@example.com", PASSWORD)
    for value in ("not-an-address", "ALICE@example.com"):
        response = await account_app.post(
            "/email/change", json={"new_login": value}, headers=bearer(access)
        )
        assert response.status_code == 422, response.text
        assert response.json()["reason"] == "invalid_address"


async def test_confirm_with_a_used_or_bad_token_is_400(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """The link works once; an unknown token is 400 invalid_grant as well."""
    await create_user("alice@example.com")
    await change(account_app, await account_app.access_token("alice@example.com", PASSWORD))
    token = account_app.captured.last(Purpose.CHANGE_EMAIL).token
    assert (await account_app.post("/email/confirm", json={"token": token})).status_code == 200
    again = await account_app.post("/email/confirm", json={"token": token})
    unknown = await account_app.post("/email/confirm", json={"token": "C" * 43})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")


async def test_confirm_after_the_address_was_taken_meanwhile_is_409(
    account_app: AccountApp, create_user: CreateUser
) -> None:
    """Someone registered the new address before the link was opened: 409, nothing moved."""
    await create_user("alice@example.com")
    await change(account_app, await account_app.access_token("alice@example.com", PASSWORD))
    token = account_app.captured.last(Purpose.CHANGE_EMAIL).token
    await account_app.post("/register", json={"login": NEW, "password": "other passphrase"})
    response = await account_app.post("/email/confirm", json={"token": token})
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "login_taken"
    assert await account_app.user("alice@example.com") is not None
