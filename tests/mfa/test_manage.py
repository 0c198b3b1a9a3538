"""Managing factors: list, rename, remove (the last takes the recovery codes), limits."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager._core.events import HookDispatcher
from authmanager.exceptions import AuthError, InvalidCredentialsError, Reason
from authmanager.mfa import FactorInfo, MfaService
from authmanager.mfa.enrollment import MAX_FACTORS
from authmanager.mfa.tables import factors, recovery_codes
from authmanager.testing import CapturingHook
from tests.app import User
from tests.mfa.authenticator import SoftwareAuthenticator
from tests.mfa.support import ORIGIN, code_at, rows


async def add_totp(mfa: MfaService, user: User, label: str | None = None) -> str:
    enrollment = await mfa.begin_totp(user, label=label)
    await mfa.confirm_totp(user, enrollment.factor_id, code_at(enrollment.secret))
    return enrollment.factor_id


async def add_passkey(mfa: MfaService, user: User, label: str | None = None) -> str:
    authenticator = SoftwareAuthenticator(origin=ORIGIN)
    options = await mfa.passkey_registration_options(user)
    return (await mfa.register_passkey(user, authenticator.create(options), label=label)).id


async def test_list_factors_gives_every_kind_oldest_first(mfa: MfaService, user: User) -> None:
    """Each confirmed factor appears once with its kind, label and times, aware UTC."""
    totp_id = await add_totp(mfa, user, "Phone")
    passkey_id = await add_passkey(mfa, user, "Laptop")
    await mfa.begin_totp(user, label="pending")  # not a factor until confirmed
    listed = await mfa.list_factors(str(user.id))
    assert [(f.id, f.kind, f.label) for f in listed] == [
        (totp_id, "totp", "Phone"),
        (passkey_id, "passkey", "Laptop"),
    ]
    assert all(isinstance(f, FactorInfo) and f.created_at.tzinfo is not None for f in listed)
    assert await mfa.factor_kinds(str(user.id)) == ["totp", "passkey", "recovery_code"]


async def test_factors_of_other_users_are_invisible_and_untouchable(
    mfa: MfaService, user: User, create_user: object
) -> None:
    """Mallory cannot list, rename or remove Alice's factor."""
    mallory = await create_user("mallory@example.com")  # type: ignore[operator]
    factor_id = await add_totp(mfa, user, "Phone")
    assert await mfa.list_factors(str(mallory.id)) == []
    assert await mfa.rename_factor(mallory, factor_id, "mine") is False
    assert await mfa.remove_factor(mallory, factor_id) is False
    (listed,) = await mfa.list_factors(str(user.id))
    assert (listed.id, listed.label) == (factor_id, "Phone")


async def test_rename_sets_a_clean_label(mfa: MfaService, user: User) -> None:
    """Labels are stripped and lose control characters; empty means none; long is refused."""
    factor_id = await add_totp(mfa, user)
    assert await mfa.rename_factor(user, factor_id, "  Work phone  ") is True
    assert (await mfa.list_factors(str(user.id)))[0].label == "Work phone"
    assert await mfa.rename_factor(user, factor_id, "   ") is True
    assert (await mfa.list_factors(str(user.id)))[0].label is None
    with pytest.raises(ValueError, match="label"):
        await mfa.rename_factor(user, factor_id, "x" * 101)
    for given, kept in [("bell\x07", "bell"), ("new\nline", "newline"), ("\u202eevil", "evil")]:
        assert await mfa.rename_factor(user, factor_id, given) is True
        assert (await mfa.list_factors(str(user.id)))[0].label == kept
    assert await mfa.rename_factor(user, "no-such-id", "x") is False


async def test_removing_one_of_two_keeps_the_codes(
    mfa: MfaService,
    user: User,
    dispatcher: HookDispatcher,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """With a factor left, the recovery codes stay and the user still needs a second factor."""
    totp_id = await add_totp(mfa, user)
    await add_passkey(mfa, user)
    assert await mfa.remove_factor(user, totp_id) is True
    assert await mfa.remove_factor(user, totp_id) is False
    assert await mfa.has_active_factor(str(user.id)) is True
    assert len(await rows(session_factory, recovery_codes, user_id=str(user.id))) == 10
    await dispatcher.drain()
    removed = events.last("factor.removed")
    assert removed.user_id == str(user.id)
    assert removed.extra == {"kind": "totp", "factor_id": totp_id, "last": False}


async def test_removing_the_last_factor_deletes_the_recovery_codes(
    mfa: MfaService,
    user: User,
    dispatcher: HookDispatcher,
    events: CapturingHook,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """No factor left: no recovery codes, `has_active_factor` false, event says `last`."""
    factor_id = await add_totp(mfa, user)
    assert await mfa.remove_factor(user, factor_id) is True
    assert await mfa.has_active_factor(str(user.id)) is False
    assert await mfa.factor_kinds(str(user.id)) == []
    assert await rows(session_factory, recovery_codes, user_id=str(user.id)) == []
    assert await rows(session_factory, factors, user_id=str(user.id)) == []
    await dispatcher.drain()
    assert events.last("factor.removed").extra["last"] is True


async def test_removing_a_pending_enrollment_is_silent(
    mfa: MfaService, user: User, dispatcher: HookDispatcher, events: CapturingHook
) -> None:
    """A pending TOTP can be dropped; it was never a factor, so no event."""
    enrollment = await mfa.begin_totp(user)
    assert await mfa.remove_factor(user, enrollment.factor_id) is True
    await dispatcher.drain()
    assert events.of("factor.removed") == []


async def test_recovery_codes_need_a_factor(mfa: MfaService, user: User) -> None:
    """Without any factor there is nothing to recover: refused as `no_factor`."""
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.new_recovery_codes(user)
    assert caught.value.reason == Reason.NO_FACTOR


async def test_a_user_holds_at_most_twenty_factors(mfa: MfaService, user: User) -> None:
    """The twenty-first factor is refused (`too_many_factors`), naming the limit."""
    for _ in range(MAX_FACTORS):
        await add_passkey(mfa, user)
    with pytest.raises(AuthError, match="at most 20") as options:
        await mfa.passkey_registration_options(user)
    with pytest.raises(AuthError, match="at most 20") as totp:
        await mfa.begin_totp(user)
    assert options.value.reason == totp.value.reason == Reason.TOO_MANY_FACTORS
    assert len(await mfa.list_factors(str(user.id))) == MAX_FACTORS
