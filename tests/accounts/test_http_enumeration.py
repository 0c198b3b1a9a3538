"""No enumeration: for an existing and an unknown account the answers are the same bytes.

`/password/forgot`, `/login-link` and, with verification required, `/register` answer
the same status, body and headers (all but `Date`) whether or not the account exists;
they do the same awaited work (the same SQL, the same hashing) before answering, the
rest (token, message) happening in the background; and only the real account is sent
anything. The timing comparison is of medians over many interleaved requests, with a
generous bound: the proof is the identical awaited work, the medians only confirm it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from authmanager.accounts import AccountMessage, Purpose
from tests.accounts.http_support import AccountApp, MakeAccountApp, same_bytes, statements
from tests.conftest import PASSWORD, CreateUser

KNOWN = "alice@example.com"
UNKNOWN = "nobody@example.com"
ROUNDS = 25

ANONYMOUS = [
    ("/password/forgot", Purpose.RESET_PASSWORD, "password.reset_requested"),
    ("/login-link", Purpose.LOGIN_LINK, "login_link.sent"),
]


@pytest.mark.parametrize(("path", "purpose", "_event"), ANONYMOUS, ids=["forgot", "login-link"])
async def test_existing_and_unknown_login_get_the_same_bytes(
    account_app: AccountApp, create_user: CreateUser, path: str, purpose: Purpose, _event: str
) -> None:
    """Status, body and headers equal byte for byte; only the real account gets a message."""
    user = await create_user(KNOWN)
    known = await account_app.post(path, json={"login": KNOWN})
    unknown = await account_app.post(path, json={"login": UNKNOWN})
    same_bytes(known, unknown)
    assert known.status_code == 202
    await account_app.settle()
    (message,) = account_app.captured.messages
    assert (message.purpose, message.to, message.user_id) == (purpose, KNOWN, str(user.id))


@pytest.mark.parametrize(("path", "_purpose", "_event"), ANONYMOUS, ids=["forgot", "login-link"])
async def test_existing_and_unknown_login_do_the_same_awaited_work(
    account_app: AccountApp, create_user: CreateUser, path: str, _purpose: Purpose, _event: str
) -> None:
    """The same SQL runs before either answer; the token's INSERT only in the background."""
    await create_user(KNOWN)
    with statements(account_app) as known:
        await account_app.post(path, json={"login": KNOWN})
    with statements(account_app) as background:
        await account_app.settle()
    with statements(account_app) as unknown:
        await account_app.post(path, json={"login": UNKNOWN})
    assert known == unknown
    assert not any("authmanager_action_tokens" in s for s in known)
    assert any("INSERT INTO authmanager_action_tokens" in s for s in background)


@pytest.mark.parametrize(("path", "_purpose", "_event"), ANONYMOUS, ids=["forgot", "login-link"])
async def test_a_slow_sender_is_not_on_the_requesters_time(
    make_account_app: MakeAccountApp,
    create_user: CreateUser,
    path: str,
    _purpose: Purpose,
    _event: str,
) -> None:
    """The answer for the real account arrives before the sender has even been called."""
    release = asyncio.Event()
    called: list[AccountMessage] = []

    async def slow(message: AccountMessage) -> None:
        called.append(message)
        await release.wait()

    app = make_account_app(sender=slow, sender_timeout_seconds=5.0)
    await create_user(KNOWN)
    known = await app.post(path, json={"login": KNOWN})
    assert known.status_code == 202
    assert called == []
    release.set()
    await app.settle()
    assert [m.to for m in called] == [KNOWN]


async def _median_seconds(
    app: AccountApp, send: Callable[[str], Awaitable[httpx.Response]], logins: list[str]
) -> dict[str, float]:
    """Alternate requests for each login; the median time of each (background settled)."""
    times: dict[str, list[float]] = {login: [] for login in logins}
    for round_ in range(ROUNDS):
        # Each goes first in half of the rounds: what follows a background write is shared.
        for login in logins if round_ % 2 == 0 else logins[::-1]:
            started = time.perf_counter()
            response = await send(login)
            times[login].append(time.perf_counter() - started)
            assert response.status_code == 202, response.text
            await app.settle()  # the background work stays out of the next measurement
    return {login: statistics.median(values) for login, values in times.items()}


def _close(a: float, b: float) -> bool:
    # Generous on purpose: a shared CI machine's jitter must not fail it; a real leak
    # (a hash, an SMTP round trip, a token INSERT on one side only) is many times larger.
    return max(a, b) <= 2.5 * min(a, b) + 0.005


@pytest.mark.parametrize(("path", "_purpose", "_event"), ANONYMOUS, ids=["forgot", "login-link"])
async def test_existing_and_unknown_login_take_the_same_time(
    make_account_app: MakeAccountApp,
    create_user: CreateUser,
    path: str,
    _purpose: Purpose,
    _event: str,
) -> None:
    """Medians of interleaved requests for an existing and an unknown login are close."""
    app = make_account_app(account_rate_limit="")
    await create_user(KNOWN)
    medians = await _median_seconds(
        app, lambda login: app.post(path, json={"login": login}), [KNOWN, UNKNOWN]
    )
    assert _close(medians[KNOWN], medians[UNKNOWN]), medians


async def test_register_with_verification_answers_the_same_bytes(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """Verification required: a taken and a free login get the same 202, byte for byte.

    The new address is sent verify_email; the owner of the taken one account_exists.
    """
    app = make_account_app(require_verified_email=True)
    owner = await create_user(KNOWN)
    taken = await app.post("/register", json={"login": KNOWN, "password": "another password"})
    free = await app.post("/register", json={"login": UNKNOWN, "password": PASSWORD})
    same_bytes(taken, free)
    assert taken.status_code == 202
    assert taken.json() == {"detail": "A message with the next step is on its way to this address."}
    await app.settle()
    new = await app.user(UNKNOWN)
    assert new is not None
    sent = sorted((m.purpose, m.to, m.user_id) for m in app.captured.messages)
    assert sent == [
        (Purpose.ACCOUNT_EXISTS, KNOWN, str(owner.id)),
        (Purpose.VERIFY_EMAIL, UNKNOWN, str(new.id)),
    ]
    assert app.captured.last(Purpose.ACCOUNT_EXISTS).token is None


async def test_register_with_verification_does_the_same_awaited_work(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """Taken or free: no SQL before the answer; look-up and INSERT come in the background."""
    app = make_account_app(require_verified_email=True)
    await create_user(KNOWN)
    with statements(app) as taken:
        await app.post("/register", json={"login": KNOWN, "password": PASSWORD})
    with statements(app) as taken_later:
        await app.settle()
    with statements(app) as free:
        await app.post("/register", json={"login": UNKNOWN, "password": PASSWORD})
    with statements(app) as free_later:
        await app.settle()
    assert taken == free == []
    assert any("FROM test_users" in s for s in taken_later)
    assert not any(s.startswith("INSERT INTO test_users") for s in taken_later)
    assert any(s.startswith("INSERT INTO test_users") for s in free_later)


async def test_register_with_verification_takes_the_same_time(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """Medians of interleaved registrations of a taken and of fresh logins are close."""
    app = make_account_app(require_verified_email=True, account_rate_limit="")
    await create_user(KNOWN)
    fresh = iter(range(ROUNDS))

    async def send(login: str) -> httpx.Response:
        address = login if login == KNOWN else f"new{next(fresh)}@example.com"
        return await app.post("/register", json={"login": address, "password": PASSWORD})

    medians = await _median_seconds(app, send, [KNOWN, UNKNOWN])
    assert _close(medians[KNOWN], medians[UNKNOWN]), medians


async def test_invalid_fields_are_refused_alike_for_taken_and_free_logins(
    make_account_app: MakeAccountApp, create_user: CreateUser
) -> None:
    """Refused fields: the same 422, byte for byte, whether or not the login exists."""
    app = make_account_app(require_verified_email=True)
    await create_user(KNOWN)
    body = {"password": PASSWORD, "role": "admin"}
    taken = await app.post("/register", json={"login": KNOWN, **body})
    free = await app.post("/register", json={"login": UNKNOWN, **body})
    same_bytes(taken, free)
    assert (taken.status_code, taken.json()["reason"]) == (422, "invalid_fields")
    await app.settle()
    assert app.captured.messages == []
