"""Single-use action tokens: hashed at rest, one purpose, expiring, consumed exactly once."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import insert

from authmanager._core.clock import utcnow
from authmanager.accounts import ActionToken
from authmanager.accounts.tables import action_tokens
from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason
from tests.accounts.support import Accounts
from tests.support.clock import T0, frozen

HOUR = timedelta(hours=1)


async def test_token_is_random_and_only_its_hash_is_stored(accounts: Accounts) -> None:
    """A token has at least 128 bits of URL-safe randomness; the row holds its SHA-256 only."""
    token = await accounts.tokens.create("7", "verify_email", expires_in=HOUR, data={"to": "a@x"})
    other = await accounts.tokens.create("8", "verify_email", expires_in=HOUR)
    assert token != other
    assert len(token) >= 22  # 128 bits of base64 need 22 characters
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    rows = await accounts.token_rows(user_id="7")
    assert len(rows) == 1
    row = rows[0]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(tuple(row))


async def test_consume_returns_the_token_facts_once(accounts: Accounts) -> None:
    """The first consume gives user, purpose, data and times; the second is refused as used."""
    before = utcnow()
    token = await accounts.tokens.create("7", "reset_password", expires_in=HOUR, data={"k": 1})
    action = await accounts.tokens.consume(token, "reset_password")
    assert isinstance(action, ActionToken)
    assert (action.user_id, action.purpose, dict(action.data)) == ("7", "reset_password", {"k": 1})
    assert before - timedelta(seconds=1) <= action.created_at <= utcnow()
    assert action.created_at.tzinfo is not None
    assert action.expires_at - action.created_at == HOUR
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.tokens.consume(token, "reset_password")
    assert caught.value.reason == Reason.TOKEN_USED
    assert not isinstance(caught.value, ExpiredTokenError)


async def test_other_purpose_is_refused_and_leaves_the_token_usable(accounts: Accounts) -> None:
    """A token of one purpose does nothing for another and still works for its own."""
    token = await accounts.tokens.create("7", "verify_email", expires_in=HOUR)
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.tokens.consume(token, "reset_password")
    assert caught.value.reason == Reason.WRONG_TYPE
    assert (await accounts.tokens.consume(token, "verify_email")).user_id == "7"


@pytest.mark.parametrize(
    "token",
    ["", "short", "x" * 200, "a" * 40 + "=", "a" * 40 + "\n", "a" * 40 + " ", "é" * 43],
    ids=["empty", "short", "long", "padding", "newline", "space", "non-ascii"],
)
async def test_malformed_token_is_refused(accounts: Accounts, token: str) -> None:
    """Text that is not shaped like a token is refused as malformed."""
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.tokens.consume(token, "verify_email")
    assert caught.value.reason == Reason.MALFORMED


async def test_unknown_token_is_refused(accounts: Accounts) -> None:
    """A well-formed token that was never issued is unknown."""
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.tokens.consume("A" * 43, "verify_email")
    assert caught.value.reason == Reason.UNKNOWN_TOKEN


async def test_expired_token_raises_expired_and_is_not_consumed(accounts: Accounts) -> None:
    """Past its expiry a token raises ExpiredTokenError; the row is left as it was."""
    with frozen(T0) as clock:
        token = await accounts.tokens.create("7", "login_link", expires_in=timedelta(minutes=15))
        clock.tick(timedelta(minutes=15))
        with pytest.raises(ExpiredTokenError):
            await accounts.tokens.consume(token, "login_link")
        with pytest.raises(ExpiredTokenError):
            await accounts.tokens.peek(token, "login_link")
    (row,) = await accounts.token_rows(user_id="7")
    assert row.used_at is None


async def test_new_token_ends_the_earlier_ones_of_its_purpose_only(accounts: Accounts) -> None:
    """Issuing again for a user and purpose ends the old token; others are untouched."""
    first = await accounts.tokens.create("7", "reset_password", expires_in=HOUR)
    verify = await accounts.tokens.create("7", "verify_email", expires_in=HOUR)
    someone_else = await accounts.tokens.create("8", "reset_password", expires_in=HOUR)
    second = await accounts.tokens.create("7", "reset_password", expires_in=HOUR)
    with pytest.raises(InvalidTokenError) as caught:
        await accounts.tokens.consume(first, "reset_password")
    assert caught.value.reason == Reason.UNKNOWN_TOKEN
    for token, purpose in [
        (second, "reset_password"),
        (verify, "verify_email"),
        (someone_else, "reset_password"),
    ]:
        await accounts.tokens.consume(token, purpose)


async def test_peek_changes_nothing(accounts: Accounts) -> None:
    """peek reports the token and leaves it usable."""
    token = await accounts.tokens.create("7", "reset_password", expires_in=HOUR)
    assert (await accounts.tokens.peek(token, "reset_password")).user_id == "7"
    assert (await accounts.tokens.consume(token, "reset_password")).user_id == "7"
    with pytest.raises(InvalidTokenError):
        await accounts.tokens.peek(token, "reset_password")


async def test_consume_in_a_rolled_back_transaction_leaves_the_token_usable(
    accounts: Accounts,
) -> None:
    """Consumed inside the caller's transaction that rolls back: the token still works."""
    token = await accounts.tokens.create("7", "verify_email", expires_in=HOUR)

    class Abort(Exception):
        """The caller's own failure after the consume."""

    async def consume_then_fail() -> None:
        async with accounts.factory() as db, db.begin():
            await accounts.tokens.consume(token, "verify_email", session=db)
            raise Abort

    with pytest.raises(Abort):
        await consume_then_fail()
    assert (await accounts.tokens.consume(token, "verify_email")).user_id == "7"


async def test_revoke_user_ends_the_listed_purposes(accounts: Accounts) -> None:
    """revoke_user deletes the user's tokens of the given purposes and counts them."""
    reset = await accounts.tokens.create("7", "reset_password", expires_in=HOUR)
    link = await accounts.tokens.create("7", "login_link", expires_in=HOUR)
    assert await accounts.tokens.revoke_user("7", ["reset_password", "change_email"]) == 1
    with pytest.raises(InvalidTokenError):
        await accounts.tokens.consume(reset, "reset_password")
    await accounts.tokens.consume(link, "login_link")


async def test_purge_deletes_expired_rows_only(accounts: Accounts) -> None:
    """purge removes every row past expiry, used or not, and returns the count."""
    with frozen(T0) as clock:
        await accounts.tokens.create("1", "login_link", expires_in=timedelta(minutes=5))
        used = await accounts.tokens.create("2", "login_link", expires_in=timedelta(minutes=5))
        await accounts.tokens.consume(used, "login_link")
        live = await accounts.tokens.create("3", "login_link", expires_in=HOUR)
        clock.tick(timedelta(minutes=10))
        assert await accounts.tokens.purge() == 2
        assert await accounts.tokens.purge() == 0
        assert (await accounts.tokens.consume(live, "login_link")).user_id == "3"
    assert [r.user_id for r in await accounts.token_rows()] == ["3"]


async def test_bad_arguments_are_refused_before_anything_is_stored(accounts: Accounts) -> None:
    """A non-positive lifetime, an empty or long purpose, or non-scalar data raise."""
    with pytest.raises(ValueError, match="positive"):
        await accounts.tokens.create("7", "x", expires_in=timedelta(0))
    with pytest.raises(ValueError, match="purpose"):
        await accounts.tokens.create("7", "", expires_in=HOUR)
    with pytest.raises(ValueError, match="purpose"):
        await accounts.tokens.create("7", "p" * 33, expires_in=HOUR)
    with pytest.raises(TypeError):
        await accounts.tokens.create("7", "x", expires_in=HOUR, data={"k": [1]})  # type: ignore[dict-item]
    assert await accounts.token_rows() == []


async def test_two_live_tokens_of_a_purpose_are_both_ended_by_revoke(accounts: Accounts) -> None:
    """Rows inserted by racing issuers are all ended by revoke_user."""
    now = utcnow()
    async with accounts.factory() as db, db.begin():
        for digest in ("a" * 64, "b" * 64):
            await db.execute(
                insert(action_tokens).values(
                    token_hash=digest,
                    user_id="7",
                    purpose="reset_password",
                    created_at=now,
                    expires_at=now + HOUR,
                )
            )
    assert await accounts.tokens.revoke_user("7", ["reset_password"]) == 2


@pytest.mark.parametrize("run", range(5), ids=lambda r: f"run{r + 1}")
async def test_of_twenty_concurrent_consumers_exactly_one_wins(
    accounts: Accounts, run: int
) -> None:
    """Twenty consumers of one token at once: one gets it, nineteen are refused as used."""
    token = await accounts.tokens.create(f"u{run}", "login_link", expires_in=HOUR)
    results = await asyncio.gather(
        *(accounts.tokens.consume(token, "login_link") for _ in range(20)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, ActionToken)]
    losers = [r for r in results if isinstance(r, InvalidTokenError)]
    assert len(winners) == 1, results
    assert len(losers) == 19, results
    assert {e.reason for e in losers} == {Reason.TOKEN_USED}
