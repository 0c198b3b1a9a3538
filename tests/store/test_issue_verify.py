"""Issuing tokens and verifying them: pairs, payloads, audiences, types, expiry, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import (
    AuthManager,
    ClientInfo,
    ExpiredTokenError,
    InvalidTokenError,
    RevokedTokenError,
    TokenPair,
    TokenPayload,
)
from authmanager._core.models import sessions, tokens
from authmanager.exceptions import Reason
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import MakeManager
from tests.support.clock import T0, frozen
from tests.support.factories import claims
from tests.support.rows import count, session_rows, token_rows

RESERVED = ["jti", "sid", "type", "iat", "exp", "nbf", "aud", "iss", "fresh"]


# --- create_token_pair -----------------------------------------------------------------


async def test_token_pair_has_attributes_and_keys(
    manager: AuthManager[User], user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A pair reads by attribute and key, is a bearer pair, and both tokens are tracked."""
    pair = await manager.create_token_pair(claims(user))
    assert isinstance(pair, TokenPair)
    assert pair.token_type == pair["token_type"] == "bearer"
    assert pair.expires_in == pair["expires_in"] == 30 * 60
    assert pair["access_token"] == pair.access_token
    assert pair["refresh_token"] == pair.refresh_token
    assert pair.access_token != pair.refresh_token
    with pytest.raises(KeyError):
        pair["secret_key"]
    assert pair.access_token not in repr(pair)
    rows = await token_rows(session_factory, session_id=pair.session_id)
    assert sorted(r.type for r in rows) == ["access", "refresh"]
    assert {r.user_id for r in rows} == {str(user.id)}
    assert all(r.revoked_at is None for r in rows)
    (session_row,) = await session_rows(session_factory, id=pair.session_id)
    assert session_row.user_id == str(user.id)


async def test_access_payload_has_typed_standard_claims(
    manager: AuthManager[User], user: User
) -> None:
    """sub/jti/sid/type/exp/iat/aud/iss are typed; exp and iat are aware UTC datetimes."""
    with frozen(T0):
        pair = await manager.create_token_pair(claims(user))
        payload = await manager.verify_token(pair.access_token)
    assert isinstance(payload, TokenPayload)
    assert payload.sub == str(user.id)
    assert payload.sid == pair.session_id
    assert payload.type == "access"
    assert isinstance(payload.jti, str)
    assert len(payload.jti) >= 32
    assert payload.iat == T0.replace(microsecond=0)
    assert payload.exp == payload.iat + timedelta(minutes=30)
    assert payload.exp.tzinfo is not None
    assert payload.exp.utcoffset() == timedelta(0)
    assert payload.iat.tzinfo is not None
    assert payload.iat.utcoffset() == timedelta(0)
    assert isinstance(payload.aud, str)
    assert payload.aud.startswith("urn:authmanager:")
    assert payload.iss is None
    assert payload.scopes == []
    assert payload["sub"] == payload.sub


async def test_custom_claims_are_readable_as_a_mapping(
    manager: AuthManager[User], user: User
) -> None:
    """Custom claims in data come back in the payload, readable like a dict."""
    data = claims(user, device_id="d-1", roles=["a", "b"], scopes=["read", "write"])
    payload = await manager.verify_token((await manager.create_token_pair(data)).access_token)
    assert payload["device_id"] == "d-1"
    assert payload.get("roles") == ["a", "b"]
    assert payload.get("absent") is None
    assert "device_id" in payload
    assert payload.scopes == ["read", "write"]
    assert {"sub", "jti", "sid", "type", "iat", "exp", "aud", "device_id"} <= set(payload)
    assert len(payload) == len(dict(payload))


async def test_refresh_token_verifies_only_as_a_refresh_token(
    manager: AuthManager[User], user: User
) -> None:
    """`verify_token(..., token_type="refresh")` accepts the pair's refresh token."""
    pair = await manager.create_token_pair(claims(user))
    payload = await manager.verify_token(pair.refresh_token, token_type="refresh")
    assert (payload.type, payload.sid, payload.sub) == ("refresh", pair.session_id, str(user.id))
    assert payload.exp - payload.iat == timedelta(days=7)


@pytest.mark.parametrize("name", RESERVED)
async def test_reserved_claims_in_data_are_refused(
    manager: AuthManager[User],
    user: User,
    name: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A claim the library sets itself cannot be passed in data; nothing is stored."""
    with pytest.raises(ValueError, match=name):
        await manager.create_token_pair(claims(user, **{name: "x"}))
    with pytest.raises(ValueError, match=name):
        await manager.create_access_token(claims(user, **{name: "x"}))
    assert await count(session_factory, tokens) == 0
    assert await count(session_factory, sessions) == 0


@pytest.mark.parametrize("data", [{}, {"sub": 1}, {"sub": ""}, {"sub": None}, {"role": "x"}])
async def test_missing_or_non_string_sub_is_refused(
    manager: AuthManager[User], data: dict[str, object]
) -> None:
    """data["sub"] must be a non-empty string."""
    with pytest.raises(ValueError, match="sub"):
        await manager.create_token_pair(data)
    with pytest.raises(ValueError, match="sub"):
        await manager.create_access_token(data)


async def test_token_issued_event_names_ids_only(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """create_token_pair emits token.issued with the user, session and access jti."""
    pair = await manager.create_token_pair(claims(user))
    payload = await manager.verify_token(pair.access_token)
    await manager.drain_events()
    issued = events.last("token.issued")
    assert (issued.user_id, issued.session_id, issued.token_id) == (
        str(user.id),
        pair.session_id,
        payload.jti,
    )


# --- create_access_token ----------------------------------------------------------------


async def test_access_token_defaults_to_the_configured_lifetime(
    manager: AuthManager[User], user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """One tracked access token of 30 minutes, in a session of its own."""
    token = await manager.create_access_token(claims(user, role="svc"))
    payload = await manager.verify_token(token)
    assert payload.exp - payload.iat == timedelta(minutes=30)
    assert payload["role"] == "svc"
    (row,) = await token_rows(session_factory, session_id=payload.sid)
    assert (row.jti, row.type, row.user_id) == (payload.jti, "access", str(user.id))


async def test_access_token_expires_in(manager: AuthManager[User], user: User) -> None:
    """expires_in sets the lifetime; after it the token is expired."""
    with frozen(T0) as clock:
        token = await manager.create_access_token(claims(user), expires_in=timedelta(minutes=5))
        payload = await manager.verify_token(token)
        assert payload.exp - payload.iat == timedelta(minutes=5)
        clock.tick(timedelta(minutes=4, seconds=59))
        await manager.verify_token(token)
        clock.tick(timedelta(minutes=1))
        with pytest.raises(ExpiredTokenError):
            await manager.verify_token(token)


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(seconds=-5)])
async def test_non_positive_expires_in_is_refused(
    manager: AuthManager[User], user: User, bad: timedelta
) -> None:
    """expires_in must be positive."""
    with pytest.raises(ValueError, match="positive"):
        await manager.create_access_token(claims(user), expires_in=bad)


async def test_access_token_audience_is_required_back(
    manager: AuthManager[User], user: User
) -> None:
    """A token for audience "svc" verifies only when "svc" is expected."""
    token = await manager.create_access_token(claims(user), audience="svc")
    with pytest.raises(InvalidTokenError) as info:
        await manager.verify_token(token)
    assert info.value.reason == Reason.WRONG_AUDIENCE
    payload = await manager.verify_token(token, audience="svc")
    assert payload.aud == "svc"
    with pytest.raises(InvalidTokenError) as other:
        await manager.verify_token(token, audience="other")
    assert other.value.reason == Reason.WRONG_AUDIENCE


async def test_access_token_issuer_is_checked_when_expected(
    manager: AuthManager[User], user: User
) -> None:
    """An explicit issuer lands in `iss` and a different expected issuer is refused."""
    token = await manager.create_access_token(claims(user), issuer="https://a.example")
    assert (await manager.verify_token(token, issuer="https://a.example")).iss == (
        "https://a.example"
    )
    with pytest.raises(InvalidTokenError) as info:
        await manager.verify_token(token, issuer="https://b.example")
    assert info.value.reason == Reason.WRONG_ISSUER


async def test_configured_audience_and_issuer_apply_to_every_token(
    make_manager: MakeManager, user: User
) -> None:
    """JWT_AUDIENCE/JWT_ISSUER are stamped and required; per-call overrides win."""
    auth = make_manager(audience="api", issuer="https://id.example")
    pair = await auth.create_token_pair(claims(user))
    payload = await auth.verify_token(pair.access_token)
    assert (payload.aud, payload.iss) == ("api", "https://id.example")
    other = make_manager(audience="other-api", issuer="https://id.example")
    with pytest.raises(InvalidTokenError) as info:
        await other.verify_token(pair.access_token)
    assert info.value.reason == Reason.WRONG_AUDIENCE
    special = await auth.create_token_pair(claims(user), audience="admin-api")
    assert (await auth.verify_token(special.access_token, audience="admin-api")).aud == (
        "admin-api"
    )


async def test_pair_audience_sticks_to_the_session(manager: AuthManager[User], user: User) -> None:
    """A pair created for an audience keeps it across refresh."""
    pair = await manager.create_token_pair(claims(user), audience="mobile", issuer="https://i")
    new = await manager.refresh(pair.refresh_token)
    payload = await manager.verify_token(new.access_token, audience="mobile", issuer="https://i")
    assert (payload.aud, payload.iss) == ("mobile", "https://i")


# --- verify_token failures ----------------------------------------------------------------


async def test_refresh_token_is_not_an_access_token(
    manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """Type confusion, one way: a refresh token is refused where an access token is due."""
    pair = await manager.create_token_pair(claims(user))
    with pytest.raises(InvalidTokenError) as info:
        await manager.verify_token(pair.refresh_token)
    assert info.value.reason == Reason.WRONG_TYPE
    await manager.drain_events()
    rejected = events.last("token.rejected")
    assert (rejected.reason, rejected.session_id) == (Reason.WRONG_TYPE, pair.session_id)


async def test_access_token_is_not_a_refresh_token(manager: AuthManager[User], user: User) -> None:
    """Type confusion, other way: an access token neither verifies nor refreshes as refresh."""
    pair = await manager.create_token_pair(claims(user))
    with pytest.raises(InvalidTokenError) as info:
        await manager.verify_token(pair.access_token, token_type="refresh")
    assert info.value.reason == Reason.WRONG_TYPE
    with pytest.raises(InvalidTokenError) as refreshed:
        await manager.refresh(pair.access_token)
    assert refreshed.value.reason == Reason.WRONG_TYPE
    with pytest.raises(InvalidTokenError):
        await manager.refresh_access_token(pair.access_token)
    await manager.refresh(pair.refresh_token)  # the session is untouched


async def test_access_token_expires_after_its_lifetime(
    manager: AuthManager[User], user: User
) -> None:
    """Valid until exp (plus the 10 s leeway), expired after."""
    with frozen(T0) as clock:
        pair = await manager.create_token_pair(claims(user))
        clock.tick(timedelta(minutes=30, seconds=5))
        assert (await manager.verify_token(pair.access_token)).sub == str(user.id)
        clock.tick(timedelta(seconds=10))
        with pytest.raises(ExpiredTokenError) as info:
            await manager.verify_token(pair.access_token)
    assert info.value.reason == Reason.EXPIRED


async def test_revoked_access_token_is_refused(manager: AuthManager[User], user: User) -> None:
    """After revoke_token the access token is refused with reason revoked."""
    pair = await manager.create_token_pair(claims(user))
    assert await manager.revoke_token(pair.access_token) is True
    with pytest.raises(RevokedTokenError) as info:
        await manager.verify_token(pair.access_token)
    assert info.value.reason == Reason.REVOKED


async def test_token_of_an_ended_session_is_refused(manager: AuthManager[User], user: User) -> None:
    """After revoke_session the session's access token is refused."""
    pair = await manager.create_token_pair(claims(user))
    assert await manager.revoke_session(str(user.id), pair.session_id) is True
    with pytest.raises(RevokedTokenError) as info:
        await manager.verify_token(pair.access_token)
    assert info.value.reason in {Reason.REVOKED, Reason.SESSION_REVOKED}


async def test_untracked_token_is_refused(
    manager: AuthManager[User], user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A validly signed token whose row is gone is refused (the store is the authority)."""
    pair = await manager.create_token_pair(claims(user))
    from sqlalchemy import delete

    async with session_factory() as db, db.begin():
        await db.execute(delete(tokens).where(tokens.c.session_id == pair.session_id))
    with pytest.raises(RevokedTokenError) as info:
        await manager.verify_token(pair.access_token)
    assert info.value.reason == Reason.UNKNOWN_TOKEN


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "e30.e30.", "x" * 9000, "eyJ" + "[" * 5000 + ".e30.sig", None, 42],
)
async def test_garbage_is_an_invalid_token_error(manager: AuthManager[User], token: object) -> None:
    """Anything unparsable is an InvalidTokenError, never another exception."""
    with pytest.raises(InvalidTokenError):
        await manager.verify_token(token)  # type: ignore[arg-type]


async def test_token_of_another_secret_is_refused(
    make_manager: MakeManager, manager: AuthManager[User], user: User
) -> None:
    """A manager with another secret refuses this manager's tokens."""
    other = make_manager(secret_key="another-secret-another-secret-0123456789")
    pair = await manager.create_token_pair(claims(user))
    with pytest.raises(InvalidTokenError):
        await other.verify_token(pair.access_token)


async def test_overlong_sub_is_refused_as_a_value_error(
    manager: AuthManager[User], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A sub longer than the user-id column is a caller error, not a store outage."""
    with pytest.raises(ValueError, match="255"):
        await manager.create_token_pair({"sub": "x" * 256})
    with pytest.raises(ValueError, match="255"):
        await manager.create_access_token({"sub": "x" * 256})
    assert await count(session_factory, sessions) == 0
    pair = await manager.create_token_pair({"sub": "x" * 255})
    assert (await manager.verify_token(pair.access_token)).sub == "x" * 255


async def test_overlong_client_details_are_cut_to_their_columns(
    manager: AuthManager[User], user: User
) -> None:
    """A script's oversized ClientInfo is truncated (as the HTTP layer does), not a 503."""
    client = ClientInfo(ip_address="i" * 100, user_agent="u" * 2000, device_id="d" * 300)
    pair = await manager.create_token_pair(claims(user), client=client)
    (info,) = await manager.list_sessions(str(user.id))
    assert info.id == pair.session_id
    assert info.user_agent == "u" * 512
    assert info.ip_address == "i" * 64


async def test_session_argument_shares_the_callers_transaction(
    manager: AuthManager[User], user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """With session=, the pair is visible in that transaction only, and gone on rollback."""
    async with session_factory() as db, db.begin():
        pair = await manager.create_token_pair(claims(user), session=db)
        payload = await manager.verify_token(pair.access_token, session=db)
        assert payload.sid == pair.session_id
        with pytest.raises(RevokedTokenError) as outside:
            await manager.verify_token(pair.access_token)  # not committed yet
        assert outside.value.reason == Reason.UNKNOWN_TOKEN
        await db.rollback()
    assert await count(session_factory, tokens) == 0
    with pytest.raises(RevokedTokenError):
        await manager.verify_token(pair.access_token)
