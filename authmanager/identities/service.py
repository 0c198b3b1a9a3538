"""IdentityService: sign-in with OpenID Connect and OAuth 2.0 providers, and identity links.

The browser code flow: `begin` records the flow under the SHA-256 of a random `state`
and answers the provider's authorization URL plus a random value for an HttpOnly
cookie. The PKCE verifier and the nonce are HMACs of the cookie value and the state,
so the server stores no secret of the flow and only the browser that started it can
finish it. `complete` consumes the flow once (also when it then fails), redeems the
code, validates the answer in full and signs the user in (or links the identity).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Generic

from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.settings import AuthSettings
from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, InvalidTokenError, Reason
from authmanager.identities.admission import Admission
from authmanager.identities.flows import FlowRecord, FlowStore
from authmanager.identities.links import IdentityStore
from authmanager.identities.nextpath import safe_next_path
from authmanager.identities.protocols import (
    IdentityUserLoader,
    SessionStarter,
    UserT,
)
from authmanager.identities.providers import ProviderRegistry
from authmanager.identities.reader import IdentityReader
from authmanager.identities.resolver import IdentityResolver
from authmanager.identities.types import ExternalIdentity, FlowResult, FlowStart, Purpose

__all__ = ["IdentityService"]

RATE_SPACE = "identity-ip"
_OPAQUE = re.compile(r"[A-Za-z0-9_-]{32,128}")
_MAX_CODE = 2048
_MIN_NONCE, _MAX_NONCE = 16, 255


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _derive(browser: str, state: str, use: str) -> str:
    mac = hmac.new(browser.encode(), f"{use}:{state}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _bad_state() -> InvalidTokenError:
    return InvalidTokenError(
        "The sign-in state is invalid, used or expired; start again.", reason=Reason.INVALID_STATE
    )


class IdentityService(Generic[UserT]):
    """Sign-in with external providers and the user's identity links.

    Args:
        settings: The manager's settings (providers, timeouts, freshness, route prefix).
        database: The library's transactions.
        registry: The configured providers (discovery and keys cached).
        users: The application's loader; `get_user_for_identity` is required.
        sessions: Starts a login session with an `amr` (the manager's).
        events: The hook dispatcher.
        limiter: Counts flows started and ID tokens exchanged per client IP.
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        database: Database,
        registry: ProviderRegistry,
        users: IdentityUserLoader[UserT],
        sessions: SessionStarter[UserT],
        events: HookDispatcher,
        limiter: RateLimiter | None = None,
    ) -> None:
        if not callable(getattr(users, "get_user_for_identity", None)):
            raise TypeError(
                "Sign-in with external providers needs the user loader's "
                "get_user_for_identity(session, identity) method; add it to the loader."
            )
        self._settings = settings
        self._registry = registry
        self._limiter = limiter
        self._rule = RateLimiter.rule(settings.oidc_rate_limit) if limiter else None
        self._reader = IdentityReader(
            registry,
            leeway=settings.leeway_seconds,
            fresh_for=timedelta(minutes=settings.fresh_token_minutes),
        )
        self._flows = FlowStore(database)
        self._admission = Admission(
            database=database,
            resolver=IdentityResolver(users=users, store=IdentityStore()),
            flows=self._flows,
            sessions=sessions,
            events=events,
        )

    def redirect_uri(self, provider: str) -> str:
        """The callback URL registered at *provider*."""
        base = self._settings.oidc_redirect_base_url or ""
        return f"{base}{self._settings.route_prefix}/oidc/{provider}/callback"

    async def begin(
        self,
        provider: str,
        *,
        next: str | None = None,
        purpose: Purpose = "login",
        link_user_id: str | None = None,
        client: ClientInfo | None = None,
        browser_cookie_value: str | None = None,
    ) -> FlowStart:
        """Start a code flow: return the provider's URL and the browser cookie's value.

        Args:
            provider: The provider's name.
            next: Where to send the browser afterwards; a same-site relative path.
            purpose: `"login"`, or `"link"` to add the identity to `link_user_id`
                (the route must require a fresh session for it).
            link_user_id: The signed-in user, for `"link"` only.
            client: The caller, for the rate limit.
            browser_cookie_value: The browser's current cookie value, reused when well
                formed so that flows started in two tabs both complete.

        Raises:
            AuthError: `UNSAFE_REDIRECT` for *next*, `UNKNOWN_PROVIDER`,
                `PROVIDER_UNAVAILABLE`, `PROVIDER_ERROR`.
            RateLimitExceededError: too many flows from this address.
            TokenStoreUnavailableError: the database failed.
        """
        config = self._registry.config(provider)
        if purpose not in ("login", "link") or (purpose == "link") != (link_user_id is not None):
            raise ValueError("link_user_id is required for purpose 'link', and only for it.")
        try:
            next_path = safe_next_path(next)
        except ValueError as exc:
            raise AuthError(str(exc), reason=Reason.UNSAFE_REDIRECT) from None
        await self._limit(client)
        endpoints = await self._registry.endpoints(provider)
        browser = browser_cookie_value
        if browser is None or not _OPAQUE.fullmatch(browser):
            browser = secrets.token_urlsafe(32)
        state = secrets.token_urlsafe(32)
        await self._flows.create(
            state_hash=_digest(state),
            browser_hash=_digest(browser),
            provider=provider,
            purpose=purpose,
            link_user_id=link_user_id,
            next_path=next_path,
            ttl=timedelta(seconds=self._settings.oidc_flow_ttl_seconds),
        )
        url = self._registry.http.authorization_url(
            config,
            endpoint=endpoints.authorization_endpoint,
            redirect_uri=self.redirect_uri(provider),
            state=state,
            code_verifier=_derive(browser, state, "pkce"),
            nonce=_derive(browser, state, "nonce") if config.is_oidc else None,
        )
        return FlowStart(redirect_url=url, browser_cookie_value=browser)

    async def complete(
        self,
        provider: str,
        *,
        code: str | None,
        state: str | None,
        browser_cookie_value: str | None,
        client: ClientInfo,
        iss: str | None = None,
    ) -> FlowResult:
        """Finish a code flow at its callback: a new session, or a new link.

        The state is used up by this call, whatever its outcome.

        Args:
            provider: The provider's name (from the callback's path).
            code: The callback's `code`; None when the provider sent an `error`.
            state: The callback's `state`.
            browser_cookie_value: The flow cookie's value.
            client: The caller (recorded on the new session).
            iss: The callback's `iss` (RFC 9207), when the provider sends one.

        Raises:
            InvalidTokenError: `INVALID_STATE`, `INVALID_CODE`, `INVALID_NONCE`, or the
                ID token's reason (`SIGNATURE`, `WRONG_AUDIENCE`, ...);
                `ExpiredTokenError` for an expired ID token.
            InvalidCredentialsError: `IDENTITY_REFUSED`, `USER_NOT_FOUND`, `USER_INACTIVE`.
            AuthError: `IDENTITY_IN_USE`, `UNKNOWN_PROVIDER`, `PROVIDER_UNAVAILABLE`,
                `PROVIDER_ERROR`.
            TokenStoreUnavailableError: the database failed.
        """
        config = self._registry.config(provider)
        if not (state and browser_cookie_value and _OPAQUE.fullmatch(state)):
            raise _bad_state()
        if not _OPAQUE.fullmatch(browser_cookie_value):
            raise _bad_state()
        record = await self._flows.consume(
            state_hash=_digest(state), browser_hash=_digest(browser_cookie_value), provider=provider
        )
        try:
            endpoints = await self._registry.endpoints(provider)
            if not code or len(code) > _MAX_CODE:
                raise InvalidTokenError(
                    "The provider returned no usable authorization code.",
                    reason=Reason.INVALID_CODE,
                )
            # RFC 9207 §2.4: an `iss` other than this provider's is a mix-up attack.
            checks_iss = iss is not None or endpoints.issuer_in_response
            if config.is_oidc and checks_iss and iss != endpoints.issuer:
                raise InvalidTokenError(
                    "The callback is from another issuer.", reason=Reason.WRONG_ISSUER
                )
            identity, fresh = await self._reader.from_code(
                provider,
                endpoints,
                code=code,
                code_verifier=_derive(browser_cookie_value, state, "pkce"),
                nonce=_derive(browser_cookie_value, state, "nonce"),
                redirect_uri=self.redirect_uri(provider),
            )
            return await self._finish(record, identity, client, fresh=fresh)
        except AuthError as exc:
            self._admission.failed(provider, exc, client)
            raise

    async def _finish(
        self, record: FlowRecord, identity: ExternalIdentity, client: ClientInfo, *, fresh: bool
    ) -> FlowResult:
        if record.purpose == "link" and record.link_user_id is not None:
            link = await self._admission.link(record.link_user_id, identity, client)
            return FlowResult("link", link.user_id, link.info, record.next_path)
        tokens, link = await self._admission.sign_in(identity, client, fresh=fresh)
        return FlowResult("login", link.user_id, link.info, record.next_path, tokens)

    async def exchange_id_token(
        self, provider: str, id_token: str, *, nonce: str, client: ClientInfo
    ) -> TokenPair:
        """Sign in with an ID token a native app got from a platform sign-in SDK.

        The token is validated as in the code flow; its audience may also be one of the
        provider's `native_client_ids`; its `nonce` must equal *nonce*, and each
        nonce is exchanged once (a stolen ID token cannot be replayed).

        Raises:
            InvalidTokenError: `INVALID_NONCE` or the ID token's reason;
                `ExpiredTokenError` for an expired one.
            InvalidCredentialsError: `IDENTITY_REFUSED`, `USER_NOT_FOUND`, `USER_INACTIVE`.
            AuthError: `UNKNOWN_PROVIDER` (also for a plain OAuth 2.0 provider),
                `PROVIDER_UNAVAILABLE`, `PROVIDER_ERROR`, `IDENTITY_IN_USE`.
            RateLimitExceededError: too many exchanges from this address.
            TokenStoreUnavailableError: the database failed.
        """
        config = self._registry.config(provider)
        if not config.is_oidc:
            raise AuthError(
                "This provider does not issue ID tokens.", reason=Reason.UNKNOWN_PROVIDER
            )
        if not isinstance(nonce, str) or not _MIN_NONCE <= len(nonce) <= _MAX_NONCE:
            raise InvalidTokenError(
                f"The nonce must be {_MIN_NONCE} to {_MAX_NONCE} characters.",
                reason=Reason.INVALID_NONCE,
            )
        await self._limit(client)
        try:
            identity, fresh, expires = await self._reader.from_id_token(
                provider, id_token, nonce=nonce
            )
            key = _digest(f"{identity.issuer}\x00{nonce}")
            tokens, _ = await self._admission.sign_in(
                identity, client, fresh=fresh, replay_key=(key, expires)
            )
        except AuthError as exc:
            self._admission.failed(provider, exc, client)
            raise
        return tokens

    async def purge_expired(self) -> int:
        """Delete expired flows and exchanged nonces; return how many rows went.

        Raises:
            TokenStoreUnavailableError: the database failed.
        """
        return await self._flows.purge_expired()

    async def _limit(self, client: ClientInfo | None) -> None:
        if self._limiter is None or self._rule is None or client is None:
            return
        if client.ip_address:
            await self._limiter.hit(RATE_SPACE, client.ip_address, self._rule)
