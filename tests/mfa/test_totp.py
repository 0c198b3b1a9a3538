"""TOTP enrollment: inactive until confirmed, secrets encrypted at rest, keys that rotate."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager._core.events import HookDispatcher
from authmanager.exceptions import InvalidCredentialsError, Reason, TokenStoreUnavailableError
from authmanager.mfa import MfaService
from authmanager.mfa.tables import factors, recovery_codes
from authmanager.testing import CapturingHook
from tests.app import User
from tests.mfa.conftest import MakeService
from tests.mfa.support import KEY_NEW, KEY_OLD, T0, code_at, frozen, leaked, rows


async def test_enrollment_stays_inactive_until_a_code_confirms_it(
    mfa: MfaService, user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """`begin_totp` stores a pending factor: not listed, not active, no recovery codes."""
    enrollment = await mfa.begin_totp(user, label="Phone")
    stored = await rows(session_factory, factors, id=enrollment.factor_id)
    assert len(stored) == 1
    assert stored[0].confirmed_at is None
    assert await mfa.list_factors(str(user.id)) == []
    assert await mfa.has_active_factor(str(user.id)) is False
    assert await rows(session_factory, recovery_codes, user_id=str(user.id)) == []
    assert enrollment.otpauth_uri.startswith("otpauth://totp/")
    assert f"secret={enrollment.secret}" in enrollment.otpauth_uri
    assert "issuer=example.com" not in enrollment.otpauth_uri  # the default issuer
    assert "issuer=authmanager" in enrollment.otpauth_uri
    assert "alice%40example.com" in enrollment.otpauth_uri
    svg = ElementTree.fromstring(enrollment.qr_svg)  # noqa: S314 - our own output
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert enrollment.secret not in repr(enrollment)


async def test_confirming_with_the_current_code_activates_and_returns_ten_codes(
    mfa: MfaService, user: User, dispatcher: HookDispatcher, events: CapturingHook
) -> None:
    """The app's code activates the factor; ten recovery codes come back; an event says so."""
    enrollment = await mfa.begin_totp(user, label="Phone")
    codes = await mfa.confirm_totp(user, enrollment.factor_id, code_at(enrollment.secret))
    assert len(codes) == 10
    assert len(set(codes)) == 10
    listed = await mfa.list_factors(str(user.id))
    assert [(f.id, f.kind, f.label) for f in listed] == [(enrollment.factor_id, "totp", "Phone")]
    assert await mfa.has_active_factor(str(user.id)) is True
    assert await mfa.factor_kinds(str(user.id)) == ["totp", "recovery_code"]
    await dispatcher.drain()
    added = events.last("factor.added")
    assert added.user_id == str(user.id)
    assert added.extra == {"kind": "totp", "factor_id": enrollment.factor_id}
    assert leaked(events.events, enrollment.secret, *codes) == []


async def test_a_wrong_code_is_refused_and_changes_nothing(
    mfa: MfaService, user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A wrong or malformed code leaves the enrollment pending, with no recovery codes."""
    enrollment = await mfa.begin_totp(user)
    right = code_at(enrollment.secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for bad in (wrong, "abcdef", "", "1234567", right + "0"):
        with pytest.raises(InvalidCredentialsError) as caught:
            await mfa.confirm_totp(user, enrollment.factor_id, bad)
        assert caught.value.reason == Reason.WRONG_CODE
        assert right not in str(caught.value)
    (row,) = await rows(session_factory, factors, id=enrollment.factor_id)
    assert row.confirmed_at is None
    assert row.last_step is None
    assert await rows(session_factory, recovery_codes, user_id=str(user.id)) == []


async def test_codes_of_the_neighbouring_steps_confirm_but_not_further_ones(
    make_service: MakeService, create_user: object
) -> None:
    """±1 step (30 s) of drift is accepted (RFC 6238 §5.2); two steps off is refused."""
    mfa = make_service()
    with frozen(T0):
        users = [await create_user(f"u{i}@example.com") for i in range(4)]  # type: ignore[operator]
        enrollments = [await mfa.begin_totp(u) for u in users]
        offsets = {-1: True, 1: True, -2: False, 2: False}
        for (offset, accepted), user, enrollment in zip(
            offsets.items(), users, enrollments, strict=True
        ):
            code = code_at(enrollment.secret, T0 + timedelta(seconds=30 * offset))
            if accepted:
                assert len(await mfa.confirm_totp(user, enrollment.factor_id, code)) == 10
            else:
                with pytest.raises(InvalidCredentialsError):
                    await mfa.confirm_totp(user, enrollment.factor_id, code)


async def test_an_enrollment_expires_after_fifteen_minutes(mfa: MfaService, user: User) -> None:
    """A pending enrollment older than 15 minutes cannot be confirmed, even with a right code."""
    with frozen(T0) as clock:
        enrollment = await mfa.begin_totp(user)
        clock.tick(timedelta(minutes=15, seconds=1))
        with pytest.raises(InvalidCredentialsError) as caught:
            await mfa.confirm_totp(user, enrollment.factor_id, code_at(enrollment.secret))
    assert caught.value.reason == Reason.UNKNOWN_FACTOR


async def test_a_new_enrollment_replaces_the_pending_one(
    mfa: MfaService, user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Only the latest pending enrollment of a user can be confirmed."""
    first = await mfa.begin_totp(user)
    second = await mfa.begin_totp(user)
    assert [r.id for r in await rows(session_factory, factors, user_id=str(user.id))] == [
        second.factor_id
    ]
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.confirm_totp(user, first.factor_id, code_at(first.secret))
    assert caught.value.reason == Reason.UNKNOWN_FACTOR


async def test_another_users_enrollment_cannot_be_confirmed(
    mfa: MfaService, user: User, create_user: object
) -> None:
    """Confirming someone else's factor id is refused as unknown."""
    mallory = await create_user("mallory@example.com")  # type: ignore[operator]
    enrollment = await mfa.begin_totp(user)
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.confirm_totp(mallory, enrollment.factor_id, code_at(enrollment.secret))
    assert caught.value.reason == Reason.UNKNOWN_FACTOR


async def test_confirming_twice_is_refused(mfa: MfaService, user: User) -> None:
    """An active factor is not pending any more: a second confirmation is refused."""
    enrollment = await mfa.begin_totp(user)
    await mfa.confirm_totp(user, enrollment.factor_id, code_at(enrollment.secret))
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.confirm_totp(user, enrollment.factor_id, code_at(enrollment.secret))
    assert caught.value.reason == Reason.UNKNOWN_FACTOR


async def test_a_second_totp_factor_keeps_the_existing_recovery_codes(
    mfa: MfaService, user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Confirming another factor returns no codes while unused ones exist; they stay valid."""
    first = await mfa.begin_totp(user)
    codes = await mfa.confirm_totp(user, first.factor_id, code_at(first.secret))
    second = await mfa.begin_totp(user, label="Tablet")
    assert await mfa.confirm_totp(user, second.factor_id, code_at(second.secret)) == []
    assert len(await mfa.list_factors(str(user.id))) == 2
    stored = await rows(session_factory, recovery_codes, user_id=str(user.id))
    assert len(stored) == len(codes) == 10


async def test_the_secret_is_stored_encrypted_under_the_first_key(
    mfa: MfaService, user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The row holds a Fernet token of the secret under the first key, never the secret."""
    enrollment = await mfa.begin_totp(user)
    (row,) = await rows(session_factory, factors, id=enrollment.factor_id)
    assert enrollment.secret not in row.secret
    assert Fernet(KEY_OLD).decrypt(row.secret.encode()).decode() == enrollment.secret


async def test_rotation_old_key_still_verifies_then_secrets_move_to_the_new_key(
    make_service: MakeService,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Keys [new, old] open old secrets; `rotate_secrets` re-encrypts; [new] alone then works."""
    with frozen(T0) as clock:
        old = make_service(mfa_encryption_keys=[KEY_OLD])
        enrollment = await old.begin_totp(user)
        await old.confirm_totp(user, enrollment.factor_id, code_at(enrollment.secret))

        both = make_service(mfa_encryption_keys=[KEY_NEW, KEY_OLD])
        clock.tick(30)
        mfa_token, _ = await both.challenge(user)
        assert await both.verify(mfa_token, code=code_at(enrollment.secret))
        assert await both.rotate_secrets() == 1
        assert await both.rotate_secrets() == 0  # already under the new key
        (row,) = await rows(session_factory, factors, id=enrollment.factor_id)
        assert Fernet(KEY_NEW).decrypt(row.secret.encode()).decode() == enrollment.secret

        new = make_service(mfa_encryption_keys=[KEY_NEW])
        clock.tick(30)
        mfa_token, _ = await new.challenge(user)
        assert await new.verify(mfa_token, code=code_at(enrollment.secret))


async def test_a_secret_no_key_opens_fails_closed(
    make_service: MakeService, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """A key removed too early: verification raises TokenStoreUnavailableError and logs why."""
    with frozen(T0) as clock:
        old = make_service(mfa_encryption_keys=[KEY_OLD])
        enrollment = await old.begin_totp(user)
        await old.confirm_totp(user, enrollment.factor_id, code_at(enrollment.secret))
        new = make_service(mfa_encryption_keys=[KEY_NEW])
        clock.tick(30)
        mfa_token, _ = await new.challenge(user)
        with pytest.raises(TokenStoreUnavailableError):
            await new.verify(mfa_token, code=code_at(enrollment.secret))
    assert "cannot be decrypted" in caplog.text
    assert enrollment.secret not in caplog.text
    assert KEY_OLD not in caplog.text


async def test_begin_totp_is_refused_while_totp_is_off(
    make_service: MakeService, user: User
) -> None:
    """With `mfa_totp_enabled` false, no enrollment starts (the error names the setting)."""
    mfa = make_service(mfa_totp_enabled=False)
    with pytest.raises(RuntimeError, match="AUTH_MFA_TOTP_ENABLED"):
        await mfa.begin_totp(user)
    assert mfa.totp_enabled is False
