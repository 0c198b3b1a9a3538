"""Passkeys (WebAuthn): registration, passwordless sign-in, second factor, counters, challenges.

Every response comes from `SoftwareAuthenticator`, which signs for real; py_webauthn
verifies it as it would a browser's.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager, ClientInfo
from authmanager._core.events import HookDispatcher
from authmanager.exceptions import InvalidCredentialsError, InvalidTokenError, Reason
from authmanager.mfa import MfaService
from authmanager.mfa.tables import factors, webauthn_challenges
from authmanager.testing import CapturingHook
from tests.app import User
from tests.mfa.authenticator import SoftwareAuthenticator, b64url, unb64url
from tests.mfa.conftest import MakeService
from tests.mfa.support import ORIGIN, RP_ID, T0, frozen, rows

CLIENT = ClientInfo(ip_address="198.51.100.9", user_agent="pytest-passkey")


async def register(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator, label: str | None = None
) -> str:
    """Register a passkey of *authenticator* for *user*; return the factor id."""
    options = await mfa.passkey_registration_options(user)
    info = await mfa.register_passkey(user, authenticator.create(options), label=label)
    return info.id


def _reasons(results: list[object]) -> list[str]:
    return sorted(str(getattr(r, "reason", "ok")) for r in results)


# --- registration ------------------------------------------------------------------------
async def test_registration_options_ask_for_a_discoverable_credential(
    mfa: MfaService, user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The options name the RP, a random user handle, and store only the challenge's hash."""
    options = await mfa.passkey_registration_options(user)
    assert options["rp"] == {"id": RP_ID, "name": RP_ID}
    assert options["user"]["name"] == "alice@example.com"
    assert len(unb64url(options["user"]["id"])) == 32
    assert options["user"]["id"] != b64url(str(user.id).encode())
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []
    (stored,) = await rows(session_factory, webauthn_challenges)
    assert stored.purpose == "register"
    assert stored.user_id == str(user.id)
    assert options["challenge"] not in repr(tuple(stored))


async def test_a_passkey_registers_and_is_listed(
    mfa: MfaService,
    user: User,
    authenticator: SoftwareAuthenticator,
    dispatcher: HookDispatcher,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A verified registration becomes an active factor of kind passkey; an event says so."""
    options = await mfa.passkey_registration_options(user)
    info = await mfa.register_passkey(user, authenticator.create(options), label="Laptop")
    assert (info.kind, info.label, info.last_used_at) == ("passkey", "Laptop", None)
    assert await mfa.list_factors(str(user.id)) == [info]
    assert await mfa.has_active_factor(str(user.id)) is True
    assert await mfa.factor_kinds(str(user.id)) == ["passkey"]
    (row,) = await rows(session_factory, factors, id=info.id)
    (credential,) = authenticator.credentials.values()
    assert row.credential_id == b64url(credential.credential_id)
    assert row.user_handle == options["user"]["id"]
    assert (row.sign_count, row.backup_eligible, row.transports) == (0, False, ["internal"])
    await dispatcher.drain()
    assert events.last("factor.added").extra == {"kind": "passkey", "factor_id": info.id}


async def test_a_second_passkey_reuses_the_user_handle_and_excludes_the_first(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """Later options carry the same user handle and list existing credentials to exclude."""
    first = await mfa.passkey_registration_options(user)
    await mfa.register_passkey(user, authenticator.create(first))
    second = await mfa.passkey_registration_options(user)
    assert second["user"]["id"] == first["user"]["id"]
    (credential,) = authenticator.credentials
    assert [c["id"] for c in second["excludeCredentials"]] == [b64url(credential)]
    with pytest.raises(RuntimeError, match="InvalidStateError"):
        authenticator.create(second)  # the browser refuses: this authenticator has one


async def test_a_registration_challenge_works_once(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """The same registration response posted twice: the second finds no challenge."""
    options = await mfa.passkey_registration_options(user)
    response = authenticator.create(options)
    await mfa.register_passkey(user, response)
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.register_passkey(user, response)
    assert caught.value.reason == Reason.CHALLENGE


async def test_a_failed_registration_still_spends_its_challenge(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """A response from another origin is refused, and its challenge cannot be retried."""
    options = await mfa.passkey_registration_options(user)
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.register_passkey(user, authenticator.create(options, origin="https://evil.test"))
    assert caught.value.reason == Reason.PASSKEY
    with pytest.raises(InvalidCredentialsError) as again:
        await mfa.register_passkey(user, authenticator.create(options))
    assert again.value.reason == Reason.CHALLENGE
    assert await mfa.list_factors(str(user.id)) == []


async def test_a_registration_for_another_rp_is_refused(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """An attestation whose RP id hash is another site's does not verify."""
    options = await mfa.passkey_registration_options(user)
    options["rp"]["id"] = "evil.test"
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.register_passkey(user, authenticator.create(options))
    assert caught.value.reason == Reason.PASSKEY


async def test_another_users_registration_challenge_is_refused(
    mfa: MfaService, user: User, create_user: object, authenticator: SoftwareAuthenticator
) -> None:
    """A challenge issued to Alice cannot register a passkey on Mallory's account."""
    mallory = await create_user("mallory@example.com")  # type: ignore[operator]
    options = await mfa.passkey_registration_options(user)
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.register_passkey(mallory, authenticator.create(options))
    assert caught.value.reason == Reason.CHALLENGE
    assert await mfa.list_factors(str(mallory.id)) == []


async def test_an_expired_registration_challenge_is_refused(
    make_service: MakeService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """Past `webauthn_challenge_expire_seconds` the challenge is gone."""
    mfa = make_service(webauthn_challenge_expire_seconds=60)
    with frozen(T0) as clock:
        options = await mfa.passkey_registration_options(user)
        clock.tick(61)
        with pytest.raises(InvalidCredentialsError) as caught:
            await mfa.register_passkey(user, authenticator.create(options))
    assert caught.value.reason == Reason.CHALLENGE


async def test_one_credential_cannot_be_registered_twice(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """An attestation of a credential id the server holds already is refused."""
    await register(mfa, user, authenticator)
    (credential_id,) = authenticator.credentials
    options = await mfa.passkey_registration_options(user)
    # A client that ignores excludeCredentials and attests the same credential again.
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.register_passkey(user, authenticator.create(options, reuse=credential_id))
    assert caught.value.reason == Reason.PASSKEY
    assert len(await mfa.list_factors(str(user.id))) == 1


# --- passwordless sign-in ----------------------------------------------------------------
async def test_a_passkey_signs_in_without_a_password_with_amr_hwk_mfa(
    mfa: MfaService,
    manager: AuthManager[User],
    user: User,
    authenticator: SoftwareAuthenticator,
    dispatcher: HookDispatcher,
    events: CapturingHook,
) -> None:
    """Discoverable credential, user verified: a fresh session with amr hwk and mfa."""
    factor_id = await register(mfa, user, authenticator)
    options = await mfa.passkey_login_options()
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == RP_ID
    pair = await mfa.login_with_passkey(authenticator.get(options), client=CLIENT)
    payload = await manager.verify_token(pair.access_token)
    assert (payload.sub, payload["amr"], payload["fresh"]) == (str(user.id), ["hwk", "mfa"], True)
    (listed,) = await mfa.list_factors(str(user.id))
    assert listed.id == factor_id
    assert listed.last_used_at is not None
    await dispatcher.drain()
    ok = events.last("login.succeeded")
    assert (ok.user_id, ok.session_id, ok.client_ip) == (
        str(user.id),
        pair.session_id,
        CLIENT.ip_address,
    )
    assert ok.extra == {"method": "passkey"}


async def test_a_synced_passkey_is_a_software_key(
    mfa: MfaService, manager: AuthManager[User], user: User
) -> None:
    """A backup-eligible credential (a synced passkey) signs in with amr swk and mfa."""
    synced = SoftwareAuthenticator(origin=ORIGIN, backup_eligible=True)
    await register(mfa, user, synced)
    pair = await mfa.login_with_passkey(synced.get(await mfa.passkey_login_options()))
    assert (await manager.verify_token(pair.access_token))["amr"] == ["swk", "mfa"]


async def test_passwordless_sign_in_needs_user_verification(
    mfa: MfaService, user: User, dispatcher: HookDispatcher, events: CapturingHook
) -> None:
    """An assertion without the UV flag (no PIN, no biometric) cannot sign in alone."""
    presence_only = SoftwareAuthenticator(origin=ORIGIN, user_verification=False)
    await register(mfa, user, presence_only)
    options = await mfa.passkey_login_options()
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(presence_only.get(options))
    assert caught.value.reason == Reason.PASSKEY
    await dispatcher.drain()
    failed = events.last("login.failed")
    assert (failed.user_id, failed.reason, failed.extra) == (
        str(user.id),
        "passkey",
        {"method": "passkey"},
    )


async def test_a_login_challenge_works_once(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """Replaying a captured assertion is refused: its challenge is spent."""
    await register(mfa, user, authenticator)
    assertion = authenticator.get(await mfa.passkey_login_options())
    await mfa.login_with_passkey(assertion)
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(assertion)
    assert caught.value.reason == Reason.CHALLENGE


async def test_one_assertion_raced_signs_in_once(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """The same assertion sent three times at once: one session, two spent-challenge refusals."""
    await register(mfa, user, authenticator)
    assertion = authenticator.get(await mfa.passkey_login_options())
    results = await asyncio.gather(
        *[mfa.login_with_passkey(assertion) for _ in range(3)], return_exceptions=True
    )
    assert _reasons(results) == ["challenge", "challenge", "ok"]


async def test_a_signature_counter_that_goes_backwards_is_refused_and_reported(
    mfa: MfaService,
    user: User,
    authenticator: SoftwareAuthenticator,
    dispatcher: HookDispatcher,
    events: CapturingHook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cloned authenticator lagging behind the original: refused, logged, event sign_count."""
    factor_id = await register(mfa, user, authenticator)
    clone = authenticator.clone()
    await mfa.login_with_passkey(authenticator.get(await mfa.passkey_login_options()))
    await mfa.login_with_passkey(authenticator.get(await mfa.passkey_login_options()))
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(clone.get(await mfa.passkey_login_options()))
    assert caught.value.reason == Reason.SIGN_COUNT
    await dispatcher.drain()
    failed = events.last("login.failed")
    assert (failed.user_id, failed.reason) == (str(user.id), "sign_count")
    assert f"passkey {factor_id}" in caplog.text
    assert "may be cloned" in caplog.text


async def test_an_authenticator_without_a_counter_signs_in_every_time(
    mfa: MfaService, user: User
) -> None:
    """Authenticators that always report 0 (many synced passkeys) are accepted (§6.1.1)."""
    counterless = SoftwareAuthenticator(origin=ORIGIN, counts=False)
    await register(mfa, user, counterless)
    for _ in range(3):
        assert await mfa.login_with_passkey(counterless.get(await mfa.passkey_login_options()))


async def test_an_assertion_from_another_origin_is_refused(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """A phishing page's origin in clientDataJSON fails verification."""
    await register(mfa, user, authenticator)
    options = await mfa.passkey_login_options()
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(authenticator.get(options, origin="https://examp1e.com"))
    assert caught.value.reason == Reason.PASSKEY


async def test_a_forged_signature_is_refused(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """Flipping one byte of the signature: refused."""
    await register(mfa, user, authenticator)
    assertion = authenticator.get(await mfa.passkey_login_options())
    signature = bytearray(unb64url(assertion["response"]["signature"]))
    signature[-1] ^= 0x01
    assertion["response"]["signature"] = b64url(bytes(signature))
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(assertion)
    assert caught.value.reason == Reason.PASSKEY


async def test_a_wrong_user_handle_is_refused(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """A passwordless assertion must name the user handle the passkey was created under."""
    await register(mfa, user, authenticator)
    assertion = authenticator.get(await mfa.passkey_login_options())
    assertion["response"]["userHandle"] = b64url(b"someone else")
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(assertion)
    assert caught.value.reason == Reason.PASSKEY


async def test_an_unknown_credential_is_refused(mfa: MfaService, user: User) -> None:
    """An assertion of a credential the server never registered: refused, nothing learnt."""
    stranger = SoftwareAuthenticator(origin=ORIGIN)
    stranger.create({"rp": {"id": RP_ID}, "user": {"id": b64url(b"x")}, "challenge": b64url(b"c")})
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(stranger.get(await mfa.passkey_login_options()))
    assert caught.value.reason == Reason.PASSKEY


@pytest.mark.parametrize(
    "garbage",
    ["not json", "[]", '{"id": "x"}', {"id": "AA", "rawId": "AA", "response": {}}, "x" * 70000],
    ids=["text", "list", "no-response", "empty-response", "oversized"],
)
async def test_malformed_responses_are_refused(
    mfa: MfaService, garbage: object, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Garbage in: InvalidCredentialsError, and no challenge consumed or stored."""
    await mfa.passkey_login_options()
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(garbage)  # type: ignore[arg-type]
    assert caught.value.reason == Reason.PASSKEY
    assert len(await rows(session_factory, webauthn_challenges)) == 1


async def test_a_deactivated_users_passkey_cannot_sign_in(
    mfa: MfaService,
    user: User,
    authenticator: SoftwareAuthenticator,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The loader's `is_active = False` refuses the user; no session is started."""
    await register(mfa, user, authenticator)
    async with session_factory() as db, db.begin():
        (await db.get(User, user.id)).is_active = False  # type: ignore[union-attr]
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(authenticator.get(await mfa.passkey_login_options()))
    assert caught.value.reason == Reason.USER_INACTIVE


# --- second factor -----------------------------------------------------------------------
async def test_a_passkey_as_second_factor_gives_amr_pwd_hwk_mfa(
    mfa: MfaService,
    manager: AuthManager[User],
    user: User,
    dispatcher: HookDispatcher,
    events: CapturingHook,
) -> None:
    """After the password, the user's passkey (UV not required) finishes the sign-in."""
    presence_only = SoftwareAuthenticator(origin=ORIGIN, user_verification=False)
    await register(mfa, user, presence_only)
    mfa_token, factors_ = await mfa.challenge(user)
    assert factors_ == ["passkey"]
    options = await mfa.passkey_options(mfa_token)
    (credential,) = presence_only.credentials
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(credential)]
    assert options["userVerification"] == "preferred"
    pair = await mfa.verify(mfa_token, passkey=presence_only.get(options), client=CLIENT)
    assert (await manager.verify_token(pair.access_token))["amr"] == ["pwd", "hwk", "mfa"]
    await dispatcher.drain()
    assert events.last("mfa.succeeded").extra == {"method": "passkey"}


async def test_another_users_passkey_cannot_answer_the_second_step(
    mfa: MfaService, user: User, create_user: object
) -> None:
    """Mallory's passkey, signing Alice's second-step challenge, is refused."""
    mallory = await create_user("mallory@example.com")  # type: ignore[operator]
    alices = SoftwareAuthenticator(origin=ORIGIN)
    mallorys = SoftwareAuthenticator(origin=ORIGIN)
    await register(mfa, user, alices)
    await register(mfa, mallory, mallorys)
    mfa_token, _ = await mfa.challenge(user)
    options = await mfa.passkey_options(mfa_token)
    options["allowCredentials"] = []  # let Mallory's authenticator pick its own credential
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.verify(mfa_token, passkey=mallorys.get(options))
    assert caught.value.reason == Reason.PASSKEY


async def test_a_login_challenge_cannot_answer_the_second_step(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """Challenges are bound to their purpose: a passwordless one is not an mfa one."""
    await register(mfa, user, authenticator)
    mfa_token, _ = await mfa.challenge(user)
    await mfa.passkey_options(mfa_token)
    stray = authenticator.get(await mfa.passkey_login_options())
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.verify(mfa_token, passkey=stray)
    assert caught.value.reason == Reason.CHALLENGE


async def test_a_registration_challenge_cannot_sign_in(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """An assertion over a registration challenge is refused: wrong purpose."""
    await register(mfa, user, authenticator)
    registration = await mfa.passkey_registration_options(user)
    request = {"rpId": RP_ID, "challenge": registration["challenge"]}
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.login_with_passkey(authenticator.get(request))
    assert caught.value.reason == Reason.CHALLENGE


async def test_new_passkey_options_replace_the_tokens_earlier_challenge(
    mfa: MfaService, user: User, authenticator: SoftwareAuthenticator
) -> None:
    """Each mfa_token has one live challenge: the older options stop working."""
    await register(mfa, user, authenticator)
    mfa_token, _ = await mfa.challenge(user)
    older = await mfa.passkey_options(mfa_token)
    newer = await mfa.passkey_options(mfa_token)
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.verify(mfa_token, passkey=authenticator.get(older))
    assert caught.value.reason == Reason.CHALLENGE
    assert await mfa.verify(mfa_token, passkey=authenticator.get(newer))


async def test_passkey_options_need_a_live_token_and_a_passkey(mfa: MfaService, user: User) -> None:
    """Unknown tokens are refused; a user without a passkey gets `no_factor`."""
    with pytest.raises(InvalidTokenError):
        await mfa.passkey_options("never-issued")
    mfa_token, _ = await mfa.challenge(user)
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.passkey_options(mfa_token)
    assert caught.value.reason == Reason.NO_FACTOR


async def test_passkeys_are_off_without_an_rp_id(make_service: MakeService, user: User) -> None:
    """Without AUTH_WEBAUTHN_RP_ID every passkey method says what to set."""
    mfa = make_service(webauthn_rp_id=None, webauthn_origins=[])
    assert mfa.passkeys_enabled is False
    with pytest.raises(RuntimeError, match="AUTH_WEBAUTHN_RP_ID"):
        await mfa.passkey_registration_options(user)
    with pytest.raises(RuntimeError, match="AUTH_WEBAUTHN_RP_ID"):
        await mfa.passkey_login_options()
    with pytest.raises(RuntimeError, match="AUTH_WEBAUTHN_RP_ID"):
        await mfa.login_with_passkey({})


async def test_expired_login_challenges_are_purged(
    make_service: MakeService, user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """`purge_expired` deletes challenges and mfa tokens past expiry, and only those."""
    mfa = make_service(webauthn_challenge_expire_seconds=60, mfa_token_expire_minutes=5)
    with frozen(T0) as clock:
        await mfa.passkey_login_options()
        await mfa.challenge(user)
        clock.tick(timedelta(seconds=61))
        await mfa.passkey_login_options()
        assert await mfa.purge_expired() == 0  # issuing the second deleted the first already
        clock.tick(timedelta(minutes=5))
        assert await mfa.purge_expired() == 2
    assert await rows(session_factory, webauthn_challenges) == []
