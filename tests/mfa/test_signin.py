"""The two-step sign-in: `mfa_token`, then a TOTP or recovery code, each working once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager, ClientInfo
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager.exceptions import (
    AuthError,
    ExpiredTokenError,
    InvalidCredentialsError,
    InvalidTokenError,
    RateLimitExceededError,
    Reason,
)
from authmanager.mfa import MfaService, TotpEnrollment
from authmanager.mfa.challenges import digest
from authmanager.mfa.tables import mfa_tokens, recovery_codes
from authmanager.testing import CapturingHook
from tests.app import User
from tests.mfa.conftest import MakeService
from tests.mfa.support import T0, code_at, frozen, leaked, rows

CLIENT = ClientInfo(ip_address="198.51.100.4", user_agent="pytest-browser")
Enroll = Callable[..., Awaitable[tuple[TotpEnrollment, list[str]]]]


@pytest.fixture
def enroll(mfa: MfaService) -> Enroll:
    """Give *user* a confirmed TOTP factor; return the enrollment and the recovery codes."""

    async def factory(user: User, service: MfaService | None = None) -> Any:
        service = service or mfa
        enrollment = await service.begin_totp(user)
        codes = await service.confirm_totp(user, enrollment.factor_id, code_at(enrollment.secret))
        return enrollment, codes

    return factory


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_a_code_of_the_next_step_signs_in_with_amr_pwd_otp_mfa(
    mfa: MfaService,
    manager: AuthManager[User],
    user: User,
    enroll: Enroll,
    dispatcher: HookDispatcher,
    events: CapturingHook,
) -> None:
    """challenge → verify(code): a fresh session whose tokens say pwd, otp and mfa."""
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user)
        mfa_token, factors = await mfa.challenge(user, client=CLIENT)
        clock.tick(30)
        code = code_at(enrollment.secret)
        pair = await mfa.verify(mfa_token, code=code, client=CLIENT)
        payload = await manager.verify_token(pair.access_token)
    assert factors == ["totp", "recovery_code"]
    assert payload.sub == str(user.id)
    assert payload["amr"] == ["pwd", "otp", "mfa"]
    assert payload["fresh"] is True
    await dispatcher.drain()
    challenged = events.last("mfa.challenged")
    assert (challenged.user_id, challenged.client_ip) == (str(user.id), CLIENT.ip_address)
    assert challenged.extra == {"factors": "totp,recovery_code"}
    succeeded = events.last("mfa.succeeded")
    assert (succeeded.user_id, succeeded.session_id) == (str(user.id), pair.session_id)
    assert succeeded.extra == {"method": "totp"}
    assert leaked(events.events, mfa_token, code, enrollment.secret) == []


async def test_the_mfa_token_works_once(mfa: MfaService, user: User, enroll: Enroll) -> None:
    """A spent `mfa_token` is refused, even with a new valid code."""
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user)
        mfa_token, _ = await mfa.challenge(user)
        clock.tick(30)
        await mfa.verify(mfa_token, code=code_at(enrollment.secret))
        clock.tick(30)
        with pytest.raises(InvalidTokenError) as caught:
            await mfa.verify(mfa_token, code=code_at(enrollment.secret))
    assert caught.value.reason == Reason.UNKNOWN_TOKEN


async def test_a_code_is_refused_the_second_time_within_its_step(
    mfa: MfaService, user: User, enroll: Enroll, dispatcher: HookDispatcher, events: CapturingHook
) -> None:
    """The same code on a second sign-in in the same 30 s step is a replay: refused."""
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user)
        clock.tick(30)
        code = code_at(enrollment.secret)
        first, _ = await mfa.challenge(user)
        await mfa.verify(first, code=code)
        second, _ = await mfa.challenge(user)
        with pytest.raises(InvalidCredentialsError) as caught:
            await mfa.verify(second, code=code)
    assert caught.value.reason == Reason.CODE_REPLAYED
    await dispatcher.drain()
    failed = events.last("mfa.failed")
    assert (failed.user_id, failed.reason) == (str(user.id), "code_replayed")


async def test_the_confirming_code_cannot_sign_in(
    mfa: MfaService, user: User, enroll: Enroll
) -> None:
    """The code typed to confirm the enrollment is spent: its step is recorded."""
    with frozen(T0):
        enrollment, _ = await enroll(user)
        mfa_token, _ = await mfa.challenge(user)
        with pytest.raises(InvalidCredentialsError) as caught:
            await mfa.verify(mfa_token, code=code_at(enrollment.secret))
    assert caught.value.reason == Reason.CODE_REPLAYED


async def test_an_earlier_steps_code_is_refused_after_a_later_one(
    mfa: MfaService, user: User, enroll: Enroll
) -> None:
    """Accepted steps only move forward: the previous step's code is refused afterwards."""
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user)
        clock.tick(60)
        first, _ = await mfa.challenge(user)
        await mfa.verify(first, code=code_at(enrollment.secret))
        older = code_at(enrollment.secret, T0.replace(second=30))  # previous step, in window
        second, _ = await mfa.challenge(user)
        with pytest.raises(InvalidCredentialsError) as caught:
            await mfa.verify(second, code=older)
    assert caught.value.reason == Reason.CODE_REPLAYED


async def test_five_wrong_answers_kill_the_token(
    mfa: MfaService,
    user: User,
    enroll: Enroll,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """After 5 wrong codes the token is refused, even with the right code."""
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user)
        mfa_token, _ = await mfa.challenge(user)
        clock.tick(30)
        right = code_at(enrollment.secret)
        for _ in range(5):
            with pytest.raises(InvalidCredentialsError):
                await mfa.verify(mfa_token, code=other_code(right))
        with pytest.raises(InvalidTokenError) as caught:
            await mfa.verify(mfa_token, code=right)
    assert caught.value.reason == Reason.TOO_MANY_ATTEMPTS
    (row,) = await rows(session_factory, mfa_tokens, token_hash=digest(mfa_token))
    assert (row.attempts, row.used_at) == (5, None)


async def test_concurrent_guesses_cannot_exceed_five_attempts(
    mfa: MfaService,
    user: User,
    enroll: Enroll,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Twelve guesses at once: exactly five are checked, the rest refused as too many."""
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user)
        mfa_token, _ = await mfa.challenge(user)
        clock.tick(30)
        wrong = other_code(code_at(enrollment.secret))
        results = await asyncio.gather(
            *[mfa.verify(mfa_token, code=wrong) for _ in range(12)], return_exceptions=True
        )
    reasons = sorted(str(r.reason) for r in results if isinstance(r, AuthError))
    assert len(reasons) == 12
    assert reasons.count("wrong_code") == 5
    assert reasons.count("too_many_attempts") == 7
    (row,) = await rows(session_factory, mfa_tokens, token_hash=digest(mfa_token))
    assert row.attempts == 5


async def test_one_code_used_concurrently_on_two_tokens_passes_once(
    mfa: MfaService, user: User, enroll: Enroll
) -> None:
    """Two sign-ins racing with the same code: one session, one replay refusal."""
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user)
        tokens = [(await mfa.challenge(user)).mfa_token for _ in range(2)]
        clock.tick(30)
        code = code_at(enrollment.secret)
        results = await asyncio.gather(
            *[mfa.verify(t, code=code) for t in tokens], return_exceptions=True
        )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], InvalidCredentialsError)
    assert errors[0].reason == Reason.CODE_REPLAYED


async def test_the_mfa_token_expires(make_service: MakeService, user: User, enroll: Enroll) -> None:
    """Past `mfa_token_expire_minutes` the token is refused as expired."""
    mfa = make_service(mfa_token_expire_minutes=2)
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user, mfa)
        mfa_token, _ = await mfa.challenge(user)
        clock.tick(121)
        with pytest.raises(ExpiredTokenError):
            await mfa.verify(mfa_token, code=code_at(enrollment.secret))


async def test_the_mfa_token_is_stored_only_as_its_hash(
    mfa: MfaService,
    user: User,
    enroll: Enroll,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The row is keyed by SHA-256 of the token, bound to the user and the password step."""
    await enroll(user)
    mfa_token, _ = await mfa.challenge(user)
    stored = await rows(session_factory, mfa_tokens)
    assert len(stored) == 1
    assert stored[0].token_hash == digest(mfa_token) != mfa_token
    assert (stored[0].user_id, stored[0].amr) == (str(user.id), ["pwd"])
    assert mfa_token not in repr(stored[0])


@pytest.mark.parametrize("bad", ["", "x" * 129, "not-a-token-we-issued"])
async def test_unknown_or_malformed_tokens_are_refused(
    mfa: MfaService, user: User, enroll: Enroll, bad: str
) -> None:
    """A token that was never issued (or could not be one) is refused, nothing counted."""
    await enroll(user)
    with pytest.raises(InvalidTokenError):
        await mfa.verify(bad, code="123456")


def test_exactly_one_answer_is_required() -> None:
    """No answer, or two, is a caller error (the route validates the body)."""
    from authmanager.mfa.rules import answer_method

    with pytest.raises(ValueError, match="exactly one"):
        answer_method(None, None, None)
    with pytest.raises(ValueError, match="exactly one"):
        answer_method("123456", "abcd", None)
    assert answer_method(None, "abcd", None) == "recovery_code"


async def test_failures_are_limited_per_user_across_tokens(
    make_service: MakeService, user: User, enroll: Enroll, events: CapturingHook
) -> None:
    """`mfa_rate_limit` counts a user's wrong codes over new tokens; then 429, even if right."""
    mfa = make_service(mfa_rate_limit="3/hour", limiter=RateLimiter("memory://"))
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user, mfa)
        clock.tick(30)
        right = code_at(enrollment.secret)
        for _ in range(3):
            mfa_token, _ = await mfa.challenge(user)
            with pytest.raises(InvalidCredentialsError):
                await mfa.verify(mfa_token, code=other_code(right))
        mfa_token, _ = await mfa.challenge(user)
        with pytest.raises(RateLimitExceededError) as caught:
            await mfa.verify(mfa_token, code=right)
    assert caught.value.retry_after > 0


@pytest.mark.redis
async def test_the_per_user_limit_is_shared_by_workers_on_redis(
    make_service: MakeService, user: User, enroll: Enroll, redis_url: str
) -> None:
    """Two workers on one Redis: failures counted by one refuse the user on the other."""
    first, second = RateLimiter(redis_url), RateLimiter(redis_url)
    await first.reset()
    one = make_service(mfa_rate_limit="2/hour", limiter=first)
    other = make_service(mfa_rate_limit="2/hour", limiter=second)
    try:
        _, codes = await enroll(user, one)
        for _ in range(2):
            mfa_token, _ = await one.challenge(user)
            with pytest.raises(InvalidCredentialsError):
                await one.verify(mfa_token, recovery_code="0000-0000-0000-0000")
        mfa_token, _ = await other.challenge(user)
        with pytest.raises(RateLimitExceededError):
            await other.verify(mfa_token, recovery_code=codes[0])
    finally:
        await first.reset()
        for limiter in (first, second):
            await limiter.aclose()


async def test_an_inactive_user_cannot_finish_signing_in(
    mfa: MfaService,
    user: User,
    enroll: Enroll,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A user deactivated between the password and the code is refused; no session."""
    with frozen(T0) as clock:
        enrollment, _ = await enroll(user)
        mfa_token, _ = await mfa.challenge(user)
        async with session_factory() as db, db.begin():
            (await db.get(User, user.id)).is_active = False  # type: ignore[union-attr]
        clock.tick(30)
        with pytest.raises(InvalidCredentialsError) as caught:
            await mfa.verify(mfa_token, code=code_at(enrollment.secret))
    assert caught.value.reason == Reason.USER_INACTIVE


async def test_a_recovery_code_signs_in_once(
    mfa: MfaService,
    manager: AuthManager[User],
    user: User,
    enroll: Enroll,
    dispatcher: HookDispatcher,
    events: CapturingHook,
) -> None:
    """A recovery code (in any case, with or without dashes) works once; an event says so."""
    _, codes = await enroll(user)
    mfa_token, _ = await mfa.challenge(user)
    pair = await mfa.verify(mfa_token, recovery_code=codes[3].upper().replace("-", " "))
    payload = await manager.verify_token(pair.access_token)
    assert payload["amr"] == ["pwd", "otp", "mfa"]
    again, _ = await mfa.challenge(user)
    with pytest.raises(InvalidCredentialsError) as caught:
        await mfa.verify(again, recovery_code=codes[3])
    assert caught.value.reason == Reason.WRONG_CODE
    await dispatcher.drain()
    used = events.last("recovery_code.used")
    assert (used.user_id, used.session_id, used.extra) == (
        str(user.id),
        pair.session_id,
        {"remaining": 9},
    )
    assert events.last("mfa.succeeded").extra == {"method": "recovery_code"}
    assert leaked(events.events, *codes, mfa_token, again) == []


async def test_recovery_codes_are_stored_hashed(
    user: User,
    enroll: Enroll,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Only SHA-256 digests are stored; no code appears in the table."""
    _, codes = await enroll(user)
    stored = await rows(session_factory, recovery_codes, user_id=str(user.id))
    assert len(stored) == 10
    text = repr([tuple(r) for r in stored])
    assert not [c for c in codes if c in text or c.replace("-", "") in text]


async def test_one_recovery_code_used_concurrently_passes_once(
    mfa: MfaService, user: User, enroll: Enroll
) -> None:
    """Two sign-ins racing with the same recovery code: exactly one session."""
    _, codes = await enroll(user)
    tokens = [(await mfa.challenge(user)).mfa_token for _ in range(3)]
    results = await asyncio.gather(
        *[mfa.verify(t, recovery_code=codes[0]) for t in tokens], return_exceptions=True
    )
    passed = [r for r in results if not isinstance(r, BaseException)]
    assert len(passed) == 1, results
    assert all(
        isinstance(r, InvalidCredentialsError) and r.reason == Reason.WRONG_CODE
        for r in results
        if isinstance(r, BaseException)
    )


async def test_new_recovery_codes_replace_every_old_one(
    mfa: MfaService, user: User, enroll: Enroll, dispatcher: HookDispatcher, events: CapturingHook
) -> None:
    """After regeneration the old codes fail and the new ones work; an event, no codes in it."""
    _, old = await enroll(user)
    new = await mfa.new_recovery_codes(user)
    assert len(new) == 10
    assert not set(new) & set(old)
    mfa_token, _ = await mfa.challenge(user)
    with pytest.raises(InvalidCredentialsError):
        await mfa.verify(mfa_token, recovery_code=old[0])
    assert await mfa.verify(mfa_token, recovery_code=new[0])
    await dispatcher.drain()
    added = events.last("factor.added")
    assert added.extra == {"kind": "recovery_codes", "count": 10}
    assert leaked(events.events, *old, *new) == []


async def test_with_no_factor_left_the_challenge_cannot_be_answered(
    mfa: MfaService, user: User, enroll: Enroll
) -> None:
    """A factor removed between password and code: empty `factors`, and codes fail closed."""
    with frozen(T0) as clock:
        enrollment, codes = await enroll(user)
        await mfa.remove_factor(user, enrollment.factor_id)
        mfa_token, factors = await mfa.challenge(user)
        clock.tick(30)
        assert factors == []
        with pytest.raises(InvalidCredentialsError):
            await mfa.verify(mfa_token, code=code_at(enrollment.secret))
        with pytest.raises(InvalidCredentialsError):
            await mfa.verify(mfa_token, recovery_code=codes[0])
