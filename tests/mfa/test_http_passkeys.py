"""Passkeys over HTTP: registration, passwordless sign-in, second factor, counters, limits."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from authmanager import AuthManager
from authmanager.mfa.tables import webauthn_challenges
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import CreateUser, MakeManager, bearer, client_for
from tests.mfa.authenticator import SoftwareAuthenticator, b64url
from tests.mfa.conftest import mfa_app
from tests.mfa.http_support import EVIL, MFA_SETTINGS, MfaClient, session_token
from tests.mfa.support import RP_ID, leaked, rows
from tests.support.http import set_cookies
from tests.support.tokens import claims


async def test_registration_options_then_the_credential_give_a_passkey_factor(
    api: MfaClient, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """Options for a discoverable passkey of this RP; the credential JSON: 201, labelled."""
    token = await api.token()
    options = await api.http.post("/auth/passkeys/register/options", headers=bearer(token))
    body = options.json()
    created = await api.http.post(
        "/auth/passkeys/register",
        json=authenticator.create(body),
        params={"label": "Laptop"},
        headers=bearer(token),
    )
    listed = await api.factors(token)
    again = await api.http.post("/auth/passkeys/register/options", headers=bearer(token))
    assert options.status_code == 200, options.text
    assert options.headers["cache-control"] == "no-store"
    assert body["rp"]["id"] == RP_ID
    assert body["authenticatorSelection"]["residentKey"] == "required"
    assert body["attestation"] == "none"
    assert created.status_code == 201, created.text
    assert (created.json()["kind"], created.json()["label"]) == ("passkey", "Laptop")
    assert [f["id"] for f in listed] == [created.json()["id"]]
    # The same authenticator is excluded next time (it would replace, not add).
    excluded = [c["id"] for c in again.json()["excludeCredentials"]]
    assert excluded == [b64url(credential_id) for credential_id in authenticator.credentials]


async def test_bad_registrations_are_400_and_spend_their_challenge(
    api: MfaClient, user: User, authenticator: SoftwareAuthenticator, session_factory: Any
) -> None:
    """Another origin: 400 `passkey`; the same challenge again: 400 `challenge`; long label 422."""
    token = await api.token()
    options = (await api.http.post("/auth/passkeys/register/options", headers=bearer(token))).json()
    phished = authenticator.create(options, origin="https://examp1e.com")
    wrong_origin = await api.http.post(
        "/auth/passkeys/register", json=phished, headers=bearer(token)
    )
    replayed = await api.http.post(
        "/auth/passkeys/register", json=authenticator.create(options), headers=bearer(token)
    )
    bad_label = await api.register_passkey(token, authenticator, label="x" * 101)
    not_json = await api.http.post(
        "/auth/passkeys/register", content=b"[1, 2]", headers=bearer(token)
    )
    assert wrong_origin.status_code == 400, wrong_origin.text
    assert (wrong_origin.json()["error"], wrong_origin.json()["reason"]) == (
        "invalid_grant",
        "passkey",
    )
    assert replayed.status_code == 400, replayed.text
    assert replayed.json()["reason"] == "challenge"
    assert bad_label.status_code == 422, bad_label.text
    assert not_json.status_code == 422, not_json.text
    assert await api.factors(token) == []


async def test_a_passkey_alone_signs_in_with_amr_hwk_mfa(
    api: MfaClient,
    mfa_manager: AuthManager[User],
    user: User,
    authenticator: SoftwareAuthenticator,
    events: CapturingHook,
) -> None:
    """Passwordless: options for anyone, the assertion, a fresh two-factor session."""
    await api.register_passkey(await api.token(), authenticator)
    api.http.cookies.clear()
    options = await api.http.post("/auth/passkeys/login/options")
    assertion = authenticator.get(options.json())
    response = await api.http.post("/auth/passkeys/login", json=assertion)
    token = session_token(response)
    replayed = await api.http.post("/auth/passkeys/login", json=assertion)
    sensitive = await api.http.get("/sensitive", headers=bearer(token))
    fresh = await api.http.post("/change-email", headers=bearer(token))
    assert options.json()["userVerification"] == "required"
    assert options.json().get("allowCredentials", []) == []
    assert claims(token)["amr"] == ["hwk", "mfa"]
    assert claims(token)["fresh"] is True
    assert "refresh_token" in set_cookies(response)
    assert sensitive.status_code == 200, sensitive.text
    assert fresh.status_code == 200, fresh.text
    assert replayed.status_code == 401, replayed.text
    assert (replayed.json()["error"], replayed.json()["reason"]) == ("invalid_grant", "challenge")
    await mfa_manager.drain_events()
    succeeded = events.last("login.succeeded")
    assert (succeeded.user_id, succeeded.session_id) == (str(user.id), claims(token)["sid"])
    assert succeeded.extra == {"method": "passkey"}
    assert leaked(events.events, assertion["response"]["signature"], token) == []


async def test_a_synced_passkey_says_swk(api: MfaClient, user: User) -> None:
    """A backup-eligible (synced) passkey is a software-secured key in `amr`."""
    synced = SoftwareAuthenticator(origin="https://example.com", backup_eligible=True)
    await api.register_passkey(await api.token(), synced)
    assert claims(session_token(await api.passkey_login(synced)))["amr"] == ["swk", "mfa"]


async def test_passwordless_needs_user_verification(api: MfaClient, user: User) -> None:
    """An authenticator that did not verify its user cannot sign in alone: 401 `passkey`."""
    careless = SoftwareAuthenticator(origin="https://example.com", user_verification=False)
    await api.register_passkey(await api.token(), careless)
    refused = await api.passkey_login(careless)
    assert refused.status_code == 401, refused.text
    assert (refused.json()["error"], refused.json()["reason"]) == ("invalid_grant", "passkey")


async def test_a_counter_that_goes_backwards_is_refused_and_reported(
    api: MfaClient,
    mfa_manager: AuthManager[User],
    user: User,
    authenticator: SoftwareAuthenticator,
    events: CapturingHook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cloned authenticator: the original signs in, the clone (older counter) is refused."""
    await api.register_passkey(await api.token(), authenticator)
    clone = authenticator.clone()
    assert (await api.passkey_login(authenticator)).status_code == 200
    with caplog.at_level(logging.WARNING, logger="authmanager.mfa"):
        refused = await api.passkey_login(clone)
    assert refused.status_code == 401, refused.text
    assert refused.json()["reason"] == "sign_count"
    assert "may be cloned" in caplog.text
    await mfa_manager.drain_events()
    failed = events.last("login.failed")
    assert (failed.user_id, failed.reason, failed.extra) == (
        str(user.id),
        "sign_count",
        {"method": "passkey"},
    )


async def test_a_passkey_is_a_second_factor_after_the_password(
    api: MfaClient, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """/login: 403 with `passkey`; /mfa/passkey-options lists it; /mfa/verify: pwd+hwk+mfa."""
    await api.register_passkey(await api.token(), authenticator)
    first = await api.login()
    response = await api.verify_with_passkey(first.json()["mfa_token"], authenticator)
    assert first.json()["factors"] == ["passkey"]
    assert claims(session_token(response))["amr"] == ["pwd", "hwk", "mfa"]


async def test_a_passkey_answer_is_bound_to_its_mfa_token_and_user(
    api: MfaClient, user: User, create_user: CreateUser, authenticator: SoftwareAuthenticator
) -> None:
    """Another user's passkey, or an assertion for another token's challenge: 401."""
    bob = await create_user("bob@example.com")
    bobs_key = SoftwareAuthenticator(origin="https://example.com")
    await api.register_passkey(await api.token(), authenticator)
    await api.register_passkey(await api.token(bob.email), bobs_key)
    mine = await api.mfa_token()
    options = (await api.http.post("/auth/mfa/passkey-options", json={"mfa_token": mine})).json()
    stranger = await api.verify(mine, passkey=bobs_key.get({**options, "allowCredentials": []}))
    other_token = await api.mfa_token()
    crossed = await api.verify(other_token, passkey=authenticator.get(options))
    assert stranger.status_code == 401, stranger.text
    assert crossed.status_code == 401, crossed.text
    assert crossed.json()["reason"] == "challenge"


async def test_a_user_without_passkey_gets_409_for_passkey_options(
    api: MfaClient, user: User
) -> None:
    """/mfa/passkey-options for a TOTP-only user: 409 `no_factor`."""
    await api.enroll_totp(await api.token())
    answer = await api.http.post(
        "/auth/mfa/passkey-options", json={"mfa_token": await api.mfa_token()}
    )
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "no_factor"


async def test_passwordless_sign_ins_begun_are_limited_per_address(
    make_manager: MakeManager, user: User, session_factory: Any
) -> None:
    """Each options call stores a challenge: `webauthn_login_rate_limit` per client address."""
    manager = make_manager(**MFA_SETTINGS, webauthn_login_rate_limit="3/minute")
    async with client_for(mfa_app(manager)) as http:
        answers = [await http.post("/auth/passkeys/login/options") for _ in range(4)]
    await manager.aclose()
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) > 0
    assert len(await rows(session_factory, webauthn_challenges, purpose="login")) == 3


async def test_passkey_sign_ins_refuse_cross_site_requests(
    api: MfaClient, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """A cross-site POST to /passkeys/login is 403 before the challenge is spent."""
    await api.register_passkey(await api.token(), authenticator)
    options = (await api.http.post("/auth/passkeys/login/options")).json()
    assertion = authenticator.get(options)
    refused = await api.http.post("/auth/passkeys/login", json=assertion, headers=EVIL)
    accepted = await api.http.post("/auth/passkeys/login", json=assertion)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "access_denied"
    assert accepted.status_code == 200, accepted.text


async def test_an_inactive_user_cannot_sign_in_with_a_passkey(
    api: MfaClient, user: User, authenticator: SoftwareAuthenticator, session_factory: Any
) -> None:
    """The loader says inactive: the passkey verifies, the sign-in is still 401."""
    await api.register_passkey(await api.token(), authenticator)
    async with session_factory.begin() as db:
        stored = await db.get(User, user.id)
        stored.is_active = False
    refused = await api.passkey_login(authenticator)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_grant"
