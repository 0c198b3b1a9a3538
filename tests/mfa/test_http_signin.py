"""The two-step sign-in over HTTP: `/login` answers 403 `mfa_required`, `/mfa/verify` finishes."""

from __future__ import annotations

from typing import Any

from authmanager import AuthManager
from authmanager.mfa.tables import mfa_tokens
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import PASSWORD, CreateUser, MakeManager, bearer, client_for
from tests.mfa.conftest import mfa_app
from tests.mfa.http_support import EMAIL, EVIL, MFA_SETTINGS, MfaClient, session_token
from tests.mfa.support import T0, code_at, frozen, leaked
from tests.support.http import set_cookies
from tests.support.tokens import claims


async def test_a_user_without_factor_logs_in_with_amr_pwd(api: MfaClient, user: User) -> None:
    """No factor: /login gives tokens at once, `amr` is ["pwd"], /sensitive refuses them."""
    token = await api.token()
    sensitive = await api.http.get("/sensitive", headers=bearer(token))
    assert claims(token)["amr"] == ["pwd"]
    assert sensitive.status_code == 403, sensitive.text
    assert sensitive.json()["error"] == "insufficient_user_authentication"
    assert sensitive.headers["www-authenticate"] == (
        'Bearer error="insufficient_user_authentication"'
    )


async def test_a_right_password_for_a_user_with_totp_answers_403_mfa_required(
    api: MfaClient, mfa_manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """The 403 has the OAuth error shape, an `mfa_token` and `factors`; no token, no cookie."""
    await api.enroll_totp(await api.token())
    api.http.cookies.clear()
    response = await api.login()
    body = response.json()
    assert response.status_code == 403, response.text
    assert body["error"] == "mfa_required"
    assert body["reason"] == "mfa_required"
    assert body["factors"] == ["totp", "recovery_code"]
    assert len(body["mfa_token"]) >= 43
    assert "access_token" not in body
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    assert set_cookies(response) == {}
    await mfa_manager.drain_events()
    challenged = events.last("mfa.challenged")
    assert (challenged.user_id, challenged.extra) == (
        str(user.id),
        {"factors": "totp,recovery_code"},
    )
    assert leaked(events.events, body["mfa_token"]) == []


async def test_a_wrong_password_answers_the_same_401_with_or_without_factors(
    api: MfaClient, user: User, create_user: CreateUser
) -> None:
    """No oracle: unknown login, wrong password without and with a factor: one body."""
    other = await create_user("bob@example.com")
    await api.enroll_totp(await api.token(other.email))
    answers = [
        await api.login("nobody@example.com", "wrong password"),
        await api.login(EMAIL, "wrong password"),
        await api.login(other.email, "wrong password"),
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.text for r in answers}) == 1
    assert answers[0].json()["error"] == "invalid_grant"
    assert all("mfa_token" not in r.json() for r in answers)


async def test_totp_second_step_starts_a_fresh_two_factor_session(
    api: MfaClient, mfa_manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """/mfa/verify with the next code: the /login answer, amr pwd+otp+mfa on every token."""
    totp = await api.enroll_totp(await api.token())
    api.http.cookies.clear()
    mfa_token = await api.mfa_token()
    response = await api.verify(mfa_token, code=totp.next_code())
    token = session_token(response)
    cookies = set_cookies(response)
    me = await api.http.get("/me", headers=bearer(token))
    sensitive = await api.http.get("/sensitive", headers=bearer(token))
    fresh = await api.http.post("/change-email", headers=bearer(token))
    refreshed = await api.refreshed()
    assert response.headers["cache-control"] == "no-store"
    assert "refresh_token" in cookies
    assert me.json() == {"id": user.id, "email": EMAIL}
    assert claims(token)["amr"] == ["pwd", "otp", "mfa"]
    assert claims(token)["fresh"] is True
    assert sensitive.json() == {"sub": str(user.id), "amr": ["pwd", "otp", "mfa"]}
    assert fresh.status_code == 200, fresh.text  # fresh_user: a second-factor check is fresh
    assert claims(refreshed)["amr"] == ["pwd", "otp", "mfa"]
    assert claims(refreshed)["sid"] == claims(token)["sid"]
    await mfa_manager.drain_events()
    succeeded = events.last("mfa.succeeded")
    assert (succeeded.user_id, succeeded.session_id) == (str(user.id), claims(token)["sid"])
    assert succeeded.extra == {"method": "totp"}


async def test_the_scope_asked_for_at_login_bounds_the_session_of_the_second_step(
    api: MfaClient, create_user: CreateUser, events: CapturingHook, mfa_manager: AuthManager[User]
) -> None:
    """`scope=read` at /login, then /mfa/verify: the session holds `read` only, as without MFA.

    Without `scope` the user's every scope; `login.succeeded` comes once, at /mfa/verify,
    naming the session it started.
    """
    admin = await create_user("root@example.com", role="admin")
    totp = await api.enroll_totp(await api.token(admin.email))
    api.http.cookies.clear()
    asked = await api.http.post(
        "/auth/login", data={"username": admin.email, "password": PASSWORD, "scope": "read"}
    )
    assert asked.status_code == 403, asked.text
    await mfa_manager.drain_events()
    before = len(events.of("login.succeeded"))
    narrow = await api.verify(asked.json()["mfa_token"], code=totp.next_code())
    api.http.cookies.clear()
    mfa_token = await api.mfa_token(admin.email)
    wide = await api.verify(mfa_token, recovery_code=totp.recovery_codes[0])
    assert narrow.status_code == 200, narrow.text
    assert narrow.json()["scope"] == "read"
    assert claims(session_token(narrow))["scopes"] == ["read"]
    assert "scope" not in wide.json()
    assert claims(session_token(wide))["scopes"] == ["read", "admin"]
    await mfa_manager.drain_events()
    succeeded = events.of("login.succeeded")[before:]
    assert [e.session_id for e in succeeded] == [
        claims(session_token(narrow))["sid"],
        claims(session_token(wide))["sid"],
    ]
    assert succeeded[0].extra == {"amr": "pwd otp mfa"}


async def test_a_code_works_once_and_so_does_the_mfa_token(api: MfaClient, user: User) -> None:
    """Replay: the same code under a new mfa_token is refused; a spent mfa_token too."""
    totp = await api.enroll_totp(await api.token())
    code = totp.next_code()
    first = await api.mfa_token()
    assert (await api.verify(first, code=code)).status_code == 200
    again = await api.verify(first, code=totp.next_code())
    replayed = await api.verify(await api.mfa_token(), code=code)
    assert again.status_code == 401, again.text
    assert (again.json()["error"], again.json()["reason"]) == ("invalid_grant", "unknown_token")
    assert replayed.status_code == 401, replayed.text
    assert (replayed.json()["error"], replayed.json()["reason"]) == (
        "invalid_grant",
        "code_replayed",
    )


async def test_five_wrong_codes_end_the_mfa_token(
    api: MfaClient, user: User, session_factory: Any
) -> None:
    """Five wrong answers, each 401 `wrong_code`; then even the right code is refused."""
    totp = await api.enroll_totp(await api.token())
    mfa_token = await api.mfa_token()
    right = totp.next_code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    answers = [await api.verify(mfa_token, code=wrong) for _ in range(5)]
    last = await api.verify(mfa_token, code=right)
    assert [(r.status_code, r.json()["reason"]) for r in answers] == [(401, "wrong_code")] * 5
    assert last.status_code == 401, last.text
    assert (last.json()["error"], last.json()["reason"]) == ("invalid_grant", "too_many_attempts")
    async with session_factory() as db:
        attempts = (await db.execute(mfa_tokens.select())).first().attempts
    assert attempts == 5
    # A new login gives a new token, which the right code passes.
    assert (await api.verify(await api.mfa_token(), code=right)).status_code == 200


async def test_failed_codes_are_limited_per_user_over_all_tokens(
    make_manager: MakeManager, user: User
) -> None:
    """`mfa_rate_limit`: three failures on three tokens, then 429 with Retry-After."""
    manager = make_manager(**MFA_SETTINGS, mfa_rate_limit="3/hour")
    async with client_for(mfa_app(manager)) as http:
        api = MfaClient(http)
        totp = await api.enroll_totp(await api.token())
        for _ in range(3):
            wrong = await api.verify(await api.mfa_token(), code="000000")
            assert wrong.status_code == 401, wrong.text
        limited = await api.verify(await api.mfa_token(), code=totp.next_code())
    await manager.aclose()
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"] == "slow_down"
    assert int(limited.headers["retry-after"]) > 0


async def test_a_recovery_code_signs_in_once_and_is_reported(
    api: MfaClient, mfa_manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """A recovery code: amr pwd+otp+mfa, `recovery_code.used` with 9 left; reused: 401."""
    totp = await api.enroll_totp(await api.token())
    code = totp.recovery_codes[3]
    response = await api.verify(await api.mfa_token(), recovery_code=code.upper())
    reused = await api.verify(await api.mfa_token(), recovery_code=code)
    after = await api.login()
    assert claims(session_token(response))["amr"] == ["pwd", "otp", "mfa"]
    assert reused.status_code == 401, reused.text
    assert reused.json()["reason"] == "wrong_code"
    assert after.json()["factors"] == ["totp", "recovery_code"]
    await mfa_manager.drain_events()
    used = events.last("recovery_code.used")
    assert (used.user_id, used.extra) == (str(user.id), {"remaining": 9})
    assert leaked(events.events, code, code.upper(), totp.secret) == []


async def test_an_mfa_token_expires_after_its_lifetime(api: MfaClient, user: User) -> None:
    """`mfa_token_expire_minutes` (5): past it the right code gets 401 `expired`."""
    with frozen(T0) as clock:
        totp = await api.enroll_totp(await api.token())
        mfa_token = await api.mfa_token()
        clock.tick(5 * 60 + 1)
        late = await api.verify(mfa_token, code=code_at(totp.secret))
    assert late.status_code == 401, late.text
    assert (late.json()["error"], late.json()["reason"]) == ("invalid_grant", "expired")


async def test_signing_out_everywhere_ends_the_pending_mfa_tokens(
    api: MfaClient, mfa_manager: AuthManager[User], user: User
) -> None:
    """Logout-all, a password change or revoke_all_user_tokens: earlier mfa_tokens die."""
    totp = await api.enroll_totp(await api.token())
    session = session_token(await api.verify(await api.mfa_token(), code=totp.next_code()))
    pending = await api.mfa_token()
    logged_out = await api.http.post("/auth/logout-all", headers=bearer(session))
    after_logout = await api.verify(pending, code=totp.next_code())
    pending = await api.mfa_token()
    await mfa_manager.change_password(user, PASSWORD)
    after_change = await api.verify(pending, code=totp.next_code())
    pending = await api.mfa_token()
    await mfa_manager.revoke_all_user_tokens(str(user.id))
    after_revoke = await api.verify(pending, recovery_code=totp.recovery_codes[0])
    newer = await api.mfa_token()  # issued after the sign-out: it works
    assert logged_out.status_code == 200, logged_out.text
    for refused in (after_logout, after_change, after_revoke):
        assert refused.status_code == 401, refused.text
        assert (refused.json()["error"], refused.json()["reason"]) == ("invalid_grant", "revoked")
    assert (await api.verify(newer, recovery_code=totp.recovery_codes[1])).status_code == 200


async def test_cross_site_answers_are_refused_before_anything_counts(
    api: MfaClient, user: User
) -> None:
    """A cross-site /mfa/verify is 403 `access_denied`; the token then still works."""
    totp = await api.enroll_totp(await api.token())
    mfa_token = await api.mfa_token()
    refused = await api.http.post(
        "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": totp.next_code()}, headers=EVIL
    )
    same_site = await api.http.post(
        "/auth/mfa/verify",
        json={"mfa_token": mfa_token, "code": totp.next_code()},
        headers={"Origin": "https://testserver"},
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "access_denied"
    assert same_site.status_code == 200, same_site.text


async def test_malformed_second_steps_are_422_and_change_nothing(
    api: MfaClient, user: User
) -> None:
    """No answer, two answers, unknown members, oversized tokens: 422 `invalid_request`."""
    totp = await api.enroll_totp(await api.token())
    mfa_token = await api.mfa_token()
    code = totp.next_code()
    bodies: list[Any] = [
        {"mfa_token": mfa_token},
        {"mfa_token": mfa_token, "code": code, "recovery_code": totp.recovery_codes[0]},
        {"mfa_token": mfa_token, "code": code, "extra": 1},
        {"mfa_token": "x" * 129, "code": code},
        {"code": code},
        [mfa_token, code],
    ]
    answers = [await api.http.post("/auth/mfa/verify", json=body) for body in bodies]
    assert [r.status_code for r in answers] == [422] * len(bodies)
    assert {r.json()["error"] for r in answers} == {"invalid_request"}
    assert all(code not in r.text and mfa_token not in r.text for r in answers)
    assert (await api.verify(mfa_token, code=code)).status_code == 200


async def test_a_bad_mfa_token_is_401_invalid_grant(api: MfaClient, user: User) -> None:
    """Never issued, or empty: the token endpoint's 401 `invalid_grant`."""
    unknown = await api.verify("never-issued-token", code="123456")
    options = await api.http.post("/auth/mfa/passkey-options", json={"mfa_token": "nope"})
    assert unknown.status_code == 401, unknown.text
    assert unknown.json()["error"] == "invalid_grant"
    assert options.status_code == 401, options.text
    assert options.json()["error"] == "invalid_grant"
