"""The browser code flow against the real OpenID provider: PKCE, state, nonce, links."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from authmanager._core.types import ClientInfo
from authmanager.exceptions import (
    AuthError,
    InvalidCredentialsError,
    InvalidTokenError,
    Reason,
)
from authmanager.identities import FlowResult
from authmanager.identities.tables import identities, oidc_flows
from tests.identities.conftest import Stack
from tests.identities.support import Member, members, sign_in_at_provider

CLIENT = ClientInfo(ip_address="203.0.113.7", user_agent="pytest-browser")


async def sign_in(
    stack: Stack, provider: str = "test", *, login: str = "alice", next: str | None = "/home"
) -> FlowResult:
    start = await stack.service.begin(provider, next=next, client=CLIENT)
    callback = await sign_in_at_provider(start.redirect_url, login=login)
    return await stack.service.complete(
        provider,
        code=callback.code,
        state=callback.state,
        browser_cookie_value=start.browser_cookie_value,
        client=CLIENT,
        iss=callback.iss,
    )


async def count(stack: Stack, table: object) -> int:
    async with stack.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def add_member(stack: Stack, email: str, *, verified: bool, password: bool = True) -> Member:
    async with stack.sessions() as session, session.begin():
        member = Member(
            email=email,
            hashed_password=stack.manager.hash_password("pw-for-tests") if password else None,
            is_verified=verified,
        )
        session.add(member)
    return member


async def test_first_sign_in_creates_account_link_and_session(stack: Stack) -> None:
    """alice's first sign-in: the loader creates her account, the library links it."""
    result = await sign_in(stack, next="/welcome?tab=1")

    assert result.purpose == "login"
    assert result.next == "/welcome?tab=1"
    assert result.tokens is not None
    payload = await stack.manager.verify_token(result.tokens.access_token)
    assert payload.sub == result.user_id
    assert payload["amr"] == ["fed"]
    async with stack.sessions() as session:
        (member,) = await members(session)
    assert member.email == "alice@example.com"
    assert member.is_verified is True
    assert member.hashed_password is None
    assert result.identity.issuer == stack.settings.oidc_providers["test"].issuer
    assert result.identity.subject == "alice"
    assert result.identity.provider == "test"
    (seen,) = stack.users.seen
    assert seen.email_verified is True
    assert seen.name == "Alice Liddell"
    assert seen.claims["aud"] == "web"
    assert await count(stack, oidc_flows) == 0
    await stack.drain()
    linked = stack.events.last("identity.linked")
    assert linked.user_id == result.user_id
    assert linked.extra["provider"] == "test"
    succeeded = stack.events.last("login.succeeded")
    assert succeeded.session_id == result.tokens.session_id
    assert succeeded.client_ip == CLIENT.ip_address


async def test_second_sign_in_uses_link_without_loader(stack: Stack) -> None:
    """A linked identity signs in as its user; the loader is not asked again."""
    first = await sign_in(stack)
    second = await sign_in(stack)

    assert second.user_id == first.user_id
    assert second.identity.id == first.identity.id
    assert second.identity.last_used_at >= first.identity.last_used_at
    assert len(stack.users.seen) == 1
    assert await count(stack, identities) == 1
    await stack.drain()
    assert len(stack.events.of("identity.linked")) == 1


async def test_fresh_session_when_provider_authenticated_just_now(stack: Stack) -> None:
    """auth_time within fresh_token_minutes makes the session fresh (web sends auth_time)."""
    result = await sign_in(stack)
    assert result.tokens is not None
    payload = await stack.manager.verify_token(result.tokens.access_token)
    assert payload["fresh"] is not None


async def test_client_secret_post_provider(stack: Stack) -> None:
    """A provider configured with client_secret_post redeems codes too."""
    result = await sign_in(stack, "basic", login="bob")
    assert result.tokens is not None
    assert result.identity.subject == "bob"


async def test_email_from_userinfo_when_id_token_has_none(stack: Stack) -> None:
    """carol's ID token has no email (OIDC Core §5.4): it is read from userinfo, same sub."""
    result = await sign_in(stack, login="carol")
    (seen,) = stack.users.seen
    assert seen.email == "carol@example.com"
    assert seen.email_verified is True
    assert result.identity.email == "carol@example.com"


async def test_plain_oauth2_provider_reads_userinfo(stack: Stack, oidc_issuer: str) -> None:
    """A GitHub-style provider (explicit endpoints, userinfo mapping) signs in."""
    result = await sign_in(stack, "plain", login="bob")
    (seen,) = stack.users.seen
    assert seen.issuer == oidc_issuer
    assert seen.subject == "bob"
    assert seen.email == "bob@example.com"
    assert seen.email_verified is False  # no email_verified field configured
    assert result.tokens is not None
    payload = await stack.manager.verify_token(result.tokens.access_token)
    assert payload["amr"] == ["fed"]
    assert payload.get("fresh") is None


async def test_authorization_url_uses_pkce_s256_state_and_nonce(stack: Stack) -> None:
    """The provider is sent a S256 challenge, a state and a nonce, never the verifier."""
    start = await stack.service.begin("test", client=CLIENT)
    query = parse_qs(urlsplit(start.redirect_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43
    assert len(query["nonce"][0]) == 43
    assert query["redirect_uri"] == ["https://app.test/auth/oidc/test/callback"]
    assert query["scope"] == ["openid email profile"]
    assert start.browser_cookie_value not in start.redirect_url
    async with stack.sessions() as session:
        row = (await session.execute(select(oidc_flows))).one()
    assert query["state"][0] not in row
    assert start.browser_cookie_value not in row


async def test_tampered_state_is_refused_and_changes_nothing(stack: Stack) -> None:
    """A state that is not the flow's: refused, the flow kept, nothing linked."""
    start = await stack.service.begin("test", client=CLIENT)
    callback = await sign_in_at_provider(start.redirect_url)
    assert callback.state
    tampered = callback.state[:-2] + ("AA" if not callback.state.endswith("AA") else "BB")
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.complete(
            "test",
            code=callback.code,
            state=tampered,
            browser_cookie_value=start.browser_cookie_value,
            client=CLIENT,
            iss=callback.iss,
        )
    assert caught.value.reason == Reason.INVALID_STATE
    assert await count(stack, identities) == 0
    assert await count(stack, oidc_flows) == 1


async def test_callback_in_another_browser_is_refused(stack: Stack) -> None:
    """Login CSRF: the victim's browser lacks the cookie of the attacker's flow."""
    start = await stack.service.begin("test", client=CLIENT)
    callback = await sign_in_at_provider(start.redirect_url)
    other_browser = (await stack.service.begin("test", client=CLIENT)).browser_cookie_value
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.complete(
            "test",
            code=callback.code,
            state=callback.state,
            browser_cookie_value=other_browser,
            client=CLIENT,
            iss=callback.iss,
        )
    assert caught.value.reason == Reason.INVALID_STATE
    assert await count(stack, identities) == 0


async def test_state_works_once(stack: Stack) -> None:
    """The same callback twice: the second is refused (the state was consumed)."""
    start = await stack.service.begin("test", client=CLIENT)
    callback = await sign_in_at_provider(start.redirect_url)
    args = {
        "code": callback.code,
        "state": callback.state,
        "browser_cookie_value": start.browser_cookie_value,
        "client": CLIENT,
        "iss": callback.iss,
    }
    await stack.service.complete("test", **args)
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.complete("test", **args)
    assert caught.value.reason == Reason.INVALID_STATE


async def test_concurrent_callbacks_with_one_state_sign_in_once(stack: Stack) -> None:
    """The callback raced twice (a double click): exactly one session, one link."""
    import asyncio

    start = await stack.service.begin("test", client=CLIENT)
    callback = await sign_in_at_provider(start.redirect_url)
    args = {
        "code": callback.code,
        "state": callback.state,
        "browser_cookie_value": start.browser_cookie_value,
        "client": CLIENT,
        "iss": callback.iss,
    }
    results = await asyncio.gather(
        stack.service.complete("test", **args),
        stack.service.complete("test", **args),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, FlowResult)]
    lost = [r for r in results if isinstance(r, InvalidTokenError)]
    assert len(won) == 1
    assert len(lost) == 1
    assert lost[0].reason == Reason.INVALID_STATE
    assert await count(stack, identities) == 1


async def test_replayed_code_is_refused_by_provider(stack: Stack) -> None:
    """A used code in a new flow of the same browser: the provider refuses it."""
    first = await stack.service.begin("test", client=CLIENT)
    callback = await sign_in_at_provider(first.redirect_url)
    await stack.service.complete(
        "test",
        code=callback.code,
        state=callback.state,
        browser_cookie_value=first.browser_cookie_value,
        client=CLIENT,
        iss=callback.iss,
    )
    second = await stack.service.begin(
        "test", client=CLIENT, browser_cookie_value=first.browser_cookie_value
    )
    assert second.browser_cookie_value == first.browser_cookie_value
    state = parse_qs(urlsplit(second.redirect_url).query)["state"][0]
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.complete(
            "test",
            code=callback.code,
            state=state,
            browser_cookie_value=second.browser_cookie_value,
            client=CLIENT,
            iss=callback.iss,
        )
    assert caught.value.reason == Reason.INVALID_CODE
    assert await count(stack, identities) == 1
    assert await count(stack, oidc_flows) == 0
    await stack.drain()
    assert stack.events.last("login.failed").reason == "invalid_code"


async def test_wrong_nonce_is_refused(stack: Stack) -> None:
    """An ID token whose nonce is not the flow's (the request was altered): refused."""
    start = await stack.service.begin("test", client=CLIENT)
    url = start.redirect_url.replace("nonce=", "nonce=altered")
    callback = await sign_in_at_provider(url)
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.complete(
            "test",
            code=callback.code,
            state=callback.state,
            browser_cookie_value=start.browser_cookie_value,
            client=CLIENT,
            iss=callback.iss,
        )
    assert caught.value.reason == Reason.INVALID_NONCE
    assert await count(stack, identities) == 0
    async with stack.sessions() as session:
        assert await members(session) == []


async def test_wrong_iss_in_callback_is_refused(stack: Stack) -> None:
    """RFC 9207: a callback naming another issuer (a mix-up) is refused."""
    start = await stack.service.begin("test", client=CLIENT)
    callback = await sign_in_at_provider(start.redirect_url)
    assert callback.iss == stack.settings.oidc_providers["test"].issuer
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.complete(
            "test",
            code=callback.code,
            state=callback.state,
            browser_cookie_value=start.browser_cookie_value,
            client=CLIENT,
            iss="https://evil.example",
        )
    assert caught.value.reason == Reason.WRONG_ISSUER


async def test_provider_error_uses_up_state(stack: Stack) -> None:
    """The provider answered an error (no code): refused, and the state is spent."""
    start = await stack.service.begin("test", client=CLIENT)
    state = parse_qs(urlsplit(start.redirect_url).query)["state"][0]
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.complete(
            "test",
            code=None,
            state=state,
            browser_cookie_value=start.browser_cookie_value,
            client=CLIENT,
        )
    assert caught.value.reason == Reason.INVALID_CODE
    assert await count(stack, oidc_flows) == 0


async def test_expired_flow_is_refused(stack: Stack) -> None:
    """A callback after oidc_flow_ttl_seconds: refused."""
    start = await stack.service.begin("test", client=CLIENT)
    callback = await sign_in_at_provider(start.redirect_url)
    async with stack.sessions() as session, session.begin():
        await session.execute(update(oidc_flows).values(expires_at=oidc_flows.c.created_at))
    with pytest.raises(InvalidTokenError) as caught:
        await stack.service.complete(
            "test",
            code=callback.code,
            state=callback.state,
            browser_cookie_value=start.browser_cookie_value,
            client=CLIENT,
            iss=callback.iss,
        )
    assert caught.value.reason == Reason.INVALID_STATE
    assert await stack.service.purge_expired() == 1


@pytest.mark.parametrize(
    "next_path", ["//evil.example", "/\\evil.example", "https://evil.example/", "/%2F%2Fevil"]
)
async def test_open_redirect_next_is_refused_before_anything_is_stored(
    stack: Stack, next_path: str
) -> None:
    """`next` must be a same-site path: refused at begin, no flow recorded."""
    with pytest.raises(AuthError) as caught:
        await stack.service.begin("test", next=next_path, client=CLIENT)
    assert caught.value.reason == Reason.UNSAFE_REDIRECT
    assert await count(stack, oidc_flows) == 0


async def test_unknown_provider(stack: Stack) -> None:
    with pytest.raises(AuthError) as caught:
        await stack.service.begin("nope", client=CLIENT)
    assert caught.value.reason == Reason.UNKNOWN_PROVIDER


async def test_unverified_provider_email_never_links_existing_account(stack: Stack) -> None:
    """Pre-account takeover: bob's provider email is unverified; his account is not taken."""
    await add_member(stack, "bob@example.com", verified=True)
    with pytest.raises(InvalidCredentialsError) as caught:
        await sign_in(stack, login="bob")
    assert caught.value.reason == Reason.IDENTITY_REFUSED
    assert await count(stack, identities) == 0
    await stack.drain()
    assert stack.events.last("login.failed").reason == "identity_refused"
    assert stack.events.of("identity.linked") == []


async def test_unverified_local_account_is_not_linked_by_email(stack: Stack) -> None:
    """Someone registered alice's email locally without verifying it: no link."""
    await add_member(stack, "alice@example.com", verified=False)
    with pytest.raises(InvalidCredentialsError) as caught:
        await sign_in(stack, login="alice")
    assert caught.value.reason == Reason.IDENTITY_REFUSED
    assert await count(stack, identities) == 0


async def test_both_verified_links_existing_account(stack: Stack) -> None:
    """Provider and account both say alice's email is verified: linked to her account."""
    member = await add_member(stack, "alice@example.com", verified=True)
    result = await sign_in(stack)
    assert result.user_id == str(member.id)
    assert await count(stack, identities) == 1


async def test_unverified_email_may_create_a_new_account(stack: Stack) -> None:
    """No account has bob's email: the loader may create one (unverified)."""
    result = await sign_in(stack, login="bob")
    async with stack.sessions() as session:
        (member,) = await members(session)
    assert result.user_id == str(member.id)
    assert member.is_verified is False


async def test_inactive_linked_user_is_refused(stack: Stack) -> None:
    first = await sign_in(stack)
    async with stack.sessions() as session, session.begin():
        await session.execute(update(Member).values(is_active=False))
    with pytest.raises(InvalidCredentialsError) as caught:
        await sign_in(stack)
    assert caught.value.reason == Reason.USER_INACTIVE
    assert first.tokens is not None


async def test_link_flow_adds_identity_to_signed_in_user(stack: Stack) -> None:
    """purpose=link: the identity joins the signed-in user, whatever its email."""
    member = await add_member(stack, "someone@example.org", verified=False)
    start = await stack.service.begin(
        "test", purpose="link", link_user_id=str(member.id), next="/settings", client=CLIENT
    )
    callback = await sign_in_at_provider(start.redirect_url, login="bob")
    result = await stack.service.complete(
        "test",
        code=callback.code,
        state=callback.state,
        browser_cookie_value=start.browser_cookie_value,
        client=CLIENT,
        iss=callback.iss,
    )
    assert result.purpose == "link"
    assert result.tokens is None
    assert result.next == "/settings"
    assert result.user_id == str(member.id)
    assert result.identity.subject == "bob"
    assert stack.users.seen == []
    again = await sign_in(stack, login="bob")
    assert again.user_id == str(member.id)
    await stack.drain()
    assert stack.events.last("identity.linked").user_id == str(member.id)


async def test_link_of_identity_owned_by_another_user_is_refused(stack: Stack) -> None:
    owner = await sign_in(stack)
    member = await add_member(stack, "other@example.org", verified=True)
    start = await stack.service.begin(
        "test", purpose="link", link_user_id=str(member.id), client=CLIENT
    )
    callback = await sign_in_at_provider(start.redirect_url)
    with pytest.raises(AuthError) as caught:
        await stack.service.complete(
            "test",
            code=callback.code,
            state=callback.state,
            browser_cookie_value=start.browser_cookie_value,
            client=CLIENT,
            iss=callback.iss,
        )
    assert caught.value.reason == Reason.IDENTITY_IN_USE
    assert (await stack.links.list_identities(str(member.id))) == []
    assert len(await stack.links.list_identities(owner.user_id)) == 1


async def test_link_requires_user_id(stack: Stack) -> None:
    with pytest.raises(ValueError, match="link_user_id"):
        await stack.service.begin("test", purpose="link")
    with pytest.raises(ValueError, match="link_user_id"):
        await stack.service.begin("test", link_user_id="1")


async def test_no_secret_in_logs_or_events(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """Codes, states, cookie values and tokens never reach a log line or an event."""
    caplog.set_level(logging.DEBUG, logger="authmanager")
    start = await stack.service.begin("test", client=CLIENT)
    callback = await sign_in_at_provider(start.redirect_url)
    result = await stack.service.complete(
        "test",
        code=callback.code,
        state=callback.state,
        browser_cookie_value=start.browser_cookie_value,
        client=CLIENT,
        iss=callback.iss,
    )
    with pytest.raises(InvalidTokenError):  # and a failure, which logs
        await stack.service.complete(
            "test",
            code=callback.code,
            state=callback.state,
            browser_cookie_value=start.browser_cookie_value,
            client=CLIENT,
        )
    await stack.drain()
    assert result.tokens is not None
    secrets = [
        callback.code or "",
        callback.state or "",
        start.browser_cookie_value,
        result.tokens.access_token,
        result.tokens.refresh_token,
        "web-secret",
    ]
    text = caplog.text + repr([e.as_dict() for e in stack.events.events]) + repr(result)
    for secret in secrets:
        assert secret
        assert secret not in text
