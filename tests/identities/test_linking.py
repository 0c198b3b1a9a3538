"""Listing and unlinking identities; never the user's last way to sign in."""

from __future__ import annotations

import pytest

from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, Reason
from authmanager.identities import ExternalIdentity
from authmanager.identities.links import IdentityStore
from tests.identities.conftest import MakeStack, Stack
from tests.identities.support import Member


@pytest.fixture
def plain(make_stack: MakeStack) -> Stack:
    return make_stack()


async def member_with(stack: Stack, *subjects: str, password: bool) -> Member:
    """A member with identities at the issuer https://idp.example for *subjects*."""
    store = IdentityStore()
    async with stack.sessions() as session, session.begin():
        member = Member(
            email=f"{subjects[0] if subjects else 'x'}@example.com",
            hashed_password=stack.manager.hash_password("pw-for-tests") if password else None,
        )
        session.add(member)
        await session.flush()
        for subject in subjects:
            identity = ExternalIdentity(
                provider="idp", issuer="https://idp.example", subject=subject
            )
            await store.add(session, user_id=str(member.id), identity=identity)
    return member


async def test_list_identities_oldest_first(plain: Stack) -> None:
    member = await member_with(plain, "a1", "a2", password=False)
    listed = await plain.links.list_identities(str(member.id))
    assert [i.subject for i in listed] == ["a1", "a2"]
    assert listed[0].issuer == "https://idp.example"
    assert listed[0].created_at.tzinfo is not None
    assert await plain.links.list_identities("999") == []


async def test_unlink_one_of_two(plain: Stack) -> None:
    member = await member_with(plain, "b1", "b2", password=False)
    first, _ = await plain.links.list_identities(str(member.id))
    client = ClientInfo(ip_address="192.0.2.1")
    assert await plain.links.unlink_identity(str(member.id), first.id, client=client) is True
    assert [i.subject for i in await plain.links.list_identities(str(member.id))] == ["b2"]
    await plain.drain()
    event = plain.events.last("identity.unlinked")
    assert event.user_id == str(member.id)
    assert event.extra == {"provider": "idp", "identity_id": first.id}
    assert event.client_ip == "192.0.2.1"


async def test_unlink_last_identity_without_password_is_refused(plain: Stack) -> None:
    """No password and no other identity: unlinking would lock the user out (409)."""
    member = await member_with(plain, "c1", password=False)
    (only,) = await plain.links.list_identities(str(member.id))
    with pytest.raises(AuthError) as caught:
        await plain.links.unlink_identity(str(member.id), only.id)
    assert caught.value.reason == Reason.LAST_SIGN_IN_METHOD
    assert len(await plain.links.list_identities(str(member.id))) == 1
    await plain.drain()
    assert plain.events.of("identity.unlinked") == []


async def test_unlink_last_identity_with_password(plain: Stack) -> None:
    member = await member_with(plain, "d1", password=True)
    (only,) = await plain.links.list_identities(str(member.id))
    assert await plain.links.unlink_identity(str(member.id), only.id) is True
    assert await plain.links.list_identities(str(member.id)) == []


@pytest.mark.parametrize("has_passkey", [True, False])
async def test_unlink_last_identity_asks_other_sign_in(
    make_stack: MakeStack, has_passkey: bool
) -> None:
    """A passkey (has_other_sign_in) keeps a way in; without one the unlink is refused."""
    asked: list[str] = []

    async def has_other_sign_in(user_id: str) -> bool:
        asked.append(user_id)
        return has_passkey

    stack = make_stack(has_other_sign_in=has_other_sign_in)
    member = await member_with(stack, "e1", password=False)
    (only,) = await stack.links.list_identities(str(member.id))
    if has_passkey:
        assert await stack.links.unlink_identity(str(member.id), only.id) is True
    else:
        with pytest.raises(AuthError) as caught:
            await stack.links.unlink_identity(str(member.id), only.id)
        assert caught.value.reason == Reason.LAST_SIGN_IN_METHOD
    assert asked == [str(member.id)]


async def test_concurrent_unlinks_leave_one_identity(plain: Stack) -> None:
    """Two unlinks at once of a password-less user's two identities: exactly one wins."""
    import asyncio

    member = await member_with(plain, "h1", "h2", password=False)
    first, second = await plain.links.list_identities(str(member.id))
    results = await asyncio.gather(
        plain.links.unlink_identity(str(member.id), first.id),
        plain.links.unlink_identity(str(member.id), second.id),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["AuthError", "bool"]
    refused = next(r for r in results if isinstance(r, AuthError))
    assert refused.reason == Reason.LAST_SIGN_IN_METHOD
    assert len(await plain.links.list_identities(str(member.id))) == 1


async def test_unlink_someone_elses_identity_is_not_found(plain: Stack) -> None:
    owner = await member_with(plain, "f1", "f2", password=True)
    other = await member_with(plain, "g1", password=True)
    target, _ = await plain.links.list_identities(str(owner.id))
    assert await plain.links.unlink_identity(str(other.id), target.id) is False
    assert await plain.links.unlink_identity(str(owner.id), "no-such-id") is False
    assert len(await plain.links.list_identities(str(owner.id))) == 2


async def test_identity_service_needs_get_user_for_identity(plain: Stack) -> None:
    """The constructor fails early, naming the missing loader method."""
    from authmanager import SQLAlchemyUserLoader
    from authmanager.identities.service import IdentityService

    with pytest.raises(TypeError, match="get_user_for_identity"):
        IdentityService(
            settings=plain.settings,
            database=plain.database,
            registry=plain.registry,
            users=SQLAlchemyUserLoader(Member),  # type: ignore[arg-type]
            sessions=plain.service._admission._sessions,  # type: ignore[arg-type]
            events=plain.dispatcher,
        )
