"""AuthManager: the composition root, and the contract's methods as orchestration."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager._core.cachesetup import build_state_cache
from authmanager._core.database import Database
from authmanager._core.dpop import DPoPVerifier
from authmanager._core.events import HookDispatcher
from authmanager._core.issuer import Issuer
from authmanager._core.keys import KeyRing
from authmanager._core.loginlimit import LoginLimiter
from authmanager._core.models import metadata
from authmanager._core.passwords import PasswordHasher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.settings import AuthSettings
from authmanager._core.sqlite import configure_sqlite
from authmanager._core.store import TokenStore
from authmanager._core.tokens import TokenCodec
from authmanager._core.types import ClientInfo
from authmanager._facade.accounts import AccountMethods
from authmanager._facade.admin import AdminMethods
from authmanager._facade.apikeys import ApiKeyMethods
from authmanager._facade.identities import IdentityMethods
from authmanager._facade.mfa import MfaMethods
from authmanager._facade.passwords import PasswordMethods
from authmanager._facade.sessions import SessionMethods
from authmanager._facade.tokens import TokenMethods
from authmanager._services.binding import Binder
from authmanager._services.health import HealthService
from authmanager._services.impersonation import ImpersonationService
from authmanager._services.logins import LoginService
from authmanager._services.rejections import RejectionReporter
from authmanager._services.revocation import RevocationService
from authmanager._services.rotation import RotationService
from authmanager._services.sessioncap import SessionCap
from authmanager._services.sessions import SessionService
from authmanager._services.stepup import StepUpService
from authmanager._services.verifier import Verifier
from authmanager._web.dependencies import Dependencies, PayloadDependency, PrincipalDependency
from authmanager._web.mounting import RouterLifespan, install_app
from authmanager._web.router import add_jwks_route, new_router
from authmanager._web.routes.accounts import add_account_routes
from authmanager._web.routes.apikeys import add_api_key_routes
from authmanager._web.routes.health import add_health_route
from authmanager._web.routes.identities import add_identity_routes
from authmanager._web.routes.mfa import add_mfa_routes
from authmanager._web.routes.sessions import add_session_routes
from authmanager._web.routes.tokens import add_token_routes
from authmanager._web.websocket import build_websocket_user
from authmanager.accounts import Sender
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._policy import PasswordPolicy, ensure_login_allowed
from authmanager.accounts._service import AccountService
from authmanager.accounts._tokens import ActionTokens
from authmanager.apikeys import (
    ApiKeyService,
    ApiKeyStore,
    ApiKeyVerifier,
    KeyFormat,
    Principal,
    UsageRecorder,
)
from authmanager.hooks import AuditLogHook, Hook
from authmanager.identities import IdentityLinks
from authmanager.identities.flows import FlowStore
from authmanager.loaders import UserLoader
from authmanager.mfa import MfaService

if TYPE_CHECKING:  # the oidc extra: imported only when providers are configured
    from authmanager.identities.service import IdentityService

__all__ = ["AuthManager"]

UserT = TypeVar("UserT")
_NO_CLIENT = ClientInfo()


class AuthManager(
    PasswordMethods[UserT],
    TokenMethods[UserT],
    SessionMethods[UserT],
    ApiKeyMethods,
    AccountMethods[UserT],
    MfaMethods[UserT],
    AdminMethods[UserT],
    IdentityMethods[UserT],
    Generic[UserT],
):
    """Stateful JWT authentication for one FastAPI application (or audience).

    Built once at start-up from settings, an async session factory and the
    application's user loader. Every token it issues is tracked in the token store,
    so revocation takes effect at once. FastAPI dependencies are attributes
    (`current_user`, `optional_user`, `token_data`, ...), and `router` holds the
    routes.

    Args:
        settings: The configuration; `AuthSettings()` reads the environment.
        session_factory: An `async_sessionmaker` bound to the token store's engine.
        user_loader: The application's users (see `authmanager.loaders.UserLoader`).
        hooks: Callables that receive every `AuthEvent` (metrics, alerts). Unless
            `audit_log` is off, an `AuditLogHook` is added when none is given.
        sender: Delivers the account flows' messages (`ConsoleSender`, `SMTPSender`,
            or any callable taking one `AccountMessage`); with one, the account
            routes are mounted.

    Raises:
        TypeError: The user loader lacks `get_user` or `get_user_by_login` coroutines,
            an optional loader method is not a coroutine, the sender is not callable,
            `AUTH_REQUIRE_VERIFIED_EMAIL` is on with a loader that has no
            `set_verified`, or `AUTH_OIDC_PROVIDERS` is set and it lacks
            `get_user_for_identity`.
        ValueError: The keys in the settings cannot be loaded, or a link template or
            the password policy is unusable.
        ImportError: TOTP keys or a WebAuthn RP id are set without the `mfa` extra, or
            `AUTH_OIDC_PROVIDERS` without the `oidc` extra.

    Example:
        ```python
        auth = AuthManager(settings=AuthSettings(), session_factory=factory,
                           user_loader=SQLAlchemyUserLoader(User))
        auth.install(app)  # the router at route_prefix, error handlers, lifespan
        ```
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        session_factory: async_sessionmaker[AsyncSession],
        user_loader: UserLoader[UserT],
        hooks: Iterable[Hook] = (),
        sender: Sender | None = None,
    ) -> None:
        _check_loader(user_loader)
        settings.warn_if_insecure()
        self.settings = settings
        self.session_factory = session_factory
        if settings.sqlite_pragmas:
            configure_sqlite(session_factory)
        # Primitives.
        self._keys = KeyRing(settings)
        codec = TokenCodec(settings, self._keys)
        issuer = Issuer(settings, codec)
        state_cache = build_state_cache(settings, session_factory)
        database = Database(session_factory, state_cache)
        store = TokenStore(database)
        self._passwords = PasswordHasher(settings)
        self._password_policy = PasswordPolicy(settings)
        self._events = HookDispatcher(
            _with_audit_log(list(hooks), settings.audit_log),
            timeout=settings.hook_timeout_seconds,
        )
        # One storage for every limit; each kind of key has a space of its own.
        self._rate_limiter = RateLimiter(settings.rate_limit_storage_url)
        self._limiter = LoginLimiter(settings, self._rate_limiter)
        self._store = store
        self._codec = codec
        self._state_cache = state_cache
        # API keys: created, listed, revoked; verified in one indexed query.
        key_format, key_store = KeyFormat(settings.api_key_prefix), ApiKeyStore()
        self._key_recorder = UsageRecorder(database=database, store=key_store)
        self._api_keys = ApiKeyService(
            database=database,
            store=key_store,
            key_format=key_format,
            events=self._events,
            settings=settings,
        )
        self._key_verifier = ApiKeyVerifier(
            database=database,
            store=key_store,
            key_format=key_format,
            recorder=self._key_recorder,
            events=self._events,
            users=user_loader,
        )
        # Services.
        reporter = RejectionReporter(events=self._events)
        binder = Binder(
            settings=settings,
            dpop=DPoPVerifier(settings, store),
            events=self._events,
            reporter=reporter,
        )
        self._verifier: Verifier[UserT] = Verifier(
            codec=codec,
            store=store,
            database=database,
            state_cache=state_cache,
            users=user_loader,
            reporter=reporter,
            events=self._events,
        )
        self._logins: LoginService[UserT] = LoginService(
            hasher=self._passwords,
            users=user_loader,
            database=database,
            store=store,
            limiter=self._limiter,
            events=self._events,
            credentials=self._api_keys,
            login_rule=_login_rule(settings),
        )
        cap = settings.max_sessions_per_user
        self._sessions: SessionService[UserT] = SessionService(
            issuer=issuer,
            store=store,
            database=database,
            binder=binder,
            users=user_loader,
            events=self._events,
            cap=None if cap is None else SessionCap(store=store, limit=cap, events=self._events),
        )
        self._revocations = RevocationService(
            codec=codec,
            store=store,
            database=database,
            events=self._events,
            user_revokers=(self._api_keys,),  # deactivate_user ends the keys too
            credentials=self._api_keys,  # the api_keys_on_* policies
        )
        self._impersonation: ImpersonationService[UserT] = ImpersonationService(
            issuer=issuer,
            store=store,
            database=database,
            sessions=self._sessions,
            users=user_loader,
            events=self._events,
        )
        self._rotation = RotationService(
            codec=codec,
            store=store,
            database=database,
            issuer=issuer,
            sessions=self._sessions,
            binder=binder,
            limiter=self._limiter,
            reporter=reporter,
            events=self._events,
            grace=timedelta(seconds=settings.refresh_reuse_grace_seconds),
            retries=settings.refresh_retry_within_grace,
        )
        stepup = StepUpService(
            logins=self._logins,
            sessions=self._sessions,
            users=user_loader,
            issuer=issuer,
            store=store,
            database=database,
            events=self._events,
        )
        # Account flows: action tokens always; the flows and their routes with a sender.
        self._action_tokens = ActionTokens(database=database)
        self._outbox: Outbox | None = None
        self._accounts: AccountService[UserT] | None = None
        if sender is not None:
            self._outbox = Outbox(
                sender, events=self._events, timeout=settings.sender_timeout_seconds
            )
            self._accounts = AccountService(
                settings=settings,
                database=database,
                users=user_loader,
                hasher=self._passwords,
                tokens=self._action_tokens,
                outbox=self._outbox,
                limiter=self._rate_limiter,
                events=self._events,
                sessions=self._sessions,
                revoker=self._revocations,
            )
        # Second factors: the tables are always there; TOTP and passkeys as configured.
        self._mfa = MfaService(
            settings=settings,
            database=database,
            users=user_loader,
            sessions=self._sessions,
            sign_outs=store,
            events=self._events,
            limiter=self._rate_limiter,
        )
        # Sign-in with external providers: links always, the provider flows when configured.
        self._identity_flows = FlowStore(database)
        self._identity_links: IdentityLinks[Any] = IdentityLinks(
            database=database,
            users=user_loader,  # type: ignore[arg-type]
            events=self._events,
            has_other_sign_in=self._mfa.has_passkey,  # a passkey is a way to sign in
        )
        self._identities: IdentityService[Any] | None = None
        if settings.oidc_providers:
            from authmanager.identities.factory import build_identity_service

            self._identities = build_identity_service(
                settings=settings,
                database=database,
                users=user_loader,
                sessions=self._sessions,
                events=self._events,
                limiter=self._rate_limiter,  # the one storage (reset, closed with the rest)
            )
        # HTTP.
        deps: Dependencies[UserT] = Dependencies(
            settings=settings,
            verifier=self._verifier,
            binder=binder,
            revocations=self._revocations,
            reporter=reporter,
            api_keys=self._key_verifier,
        )
        self.bearer_scheme = deps.bearer
        self.token_data: PayloadDependency = deps.token_data
        self.current_user: Callable[..., Awaitable[UserT]] = deps.current_user
        self.optional_user: Callable[..., Awaitable[UserT | None]] = deps.optional_user
        self.fresh_user: Callable[..., Awaitable[UserT]] = deps.fresh_user
        self.refresh_token_from_cookie: Callable[..., Awaitable[str]] = (
            deps.refresh_token_from_cookie
        )
        self.logout: Callable[..., Awaitable[dict[str, str]]] = deps.logout
        self.logout_all: Callable[..., Awaitable[dict[str, Any]]] = deps.logout_all
        self.api_key_user: Callable[..., Awaitable[UserT]] = deps.api_key_user
        self.current_principal: Callable[..., Awaitable[UserT]] = deps.current_principal
        self.token_validator: Callable[[Callable[[Principal], bool]], PrincipalDependency] = (
            deps.token_validator
        )
        self.require_scopes: Callable[..., PrincipalDependency] = deps.require_scopes
        self.require_mfa: PayloadDependency = deps.require_mfa
        """403 unless the session signed in with two factors, or a passkey (`mfa` in amr)."""
        self.websocket_user: Callable[..., AsyncIterator[UserT]] = build_websocket_user(
            settings=settings, verifier=self._verifier, binder=binder, transport=deps.transport
        )
        self._health = HealthService(database=database)
        self.router: APIRouter = new_router(max_body_bytes=settings.max_body_bytes)
        """The `APIRouter` with `/login`, `/refresh`, `/logout`, sessions, API keys, health
        and JWKS.

        Its lifespan, which FastAPI merges into the application's, refuses to start when
        the router is mounted elsewhere than `route_prefix`, and at shutdown writes the
        pending API key uses (`last_used_at`) and drains pending hook events.
        """
        self.router.lifespan_context = RouterLifespan(
            router=self.router, prefix=settings.route_prefix, drain=self._at_shutdown
        )
        add_token_routes(
            self.router,
            settings=settings,
            deps=deps,
            binder=binder,
            logins=self._logins,
            sessions=self._sessions,
            rotation=self._rotation,
            stepup=stepup,
            mfa=self._mfa,
        )
        add_session_routes(
            self.router, deps=deps, sessions=self._sessions, revocations=self._revocations
        )
        add_api_key_routes(self.router, deps=deps, keys=self._api_keys)
        if self._accounts is not None:
            add_account_routes(
                self.router, settings=settings, deps=deps, binder=binder, accounts=self._accounts
            )
        add_mfa_routes(self.router, settings=settings, deps=deps, binder=binder, mfa=self._mfa)
        add_identity_routes(
            self.router,
            settings=settings,
            deps=deps,
            binder=binder,
            links=self._identity_links,
            service=self._identities,
        )
        add_health_route(self.router, health=self._health)
        if not self._keys.symmetric:
            add_jwks_route(self.router, self._keys.jwks)

    def install(self, app: FastAPI, *, create_tables: bool = False) -> None:
        """Set *app* up in one call: the router, the error handlers, the lifespan.

        Mounts `router` at `route_prefix` (the one place the prefix is configured),
        installs the exception handlers (so the application's own protected routes answer
        401, 403, 429 and 503 in the library's shape), and declares those errors in the
        OpenAPI document of every route the bearer scheme protects. At start-up, tables
        missing from the token store are created when *create_tables* is true; at
        shutdown, pending hook events are delivered. `GET {route_prefix}/health`
        reports whether the token store answers.

        Args:
            app: The FastAPI application.
            create_tables: Create the token tables at start-up (quick starts; use
                Alembic with `authmanager.metadata` in production).

        Raises:
            Nothing: problems surface at start-up (`MountMismatchError` for a second
                mount elsewhere, `TokenStoreUnavailableError` for an unreachable store).

        Example:
            ```python
            app = FastAPI()
            auth.install(app, create_tables=True)
            ```
        """
        install_app(
            app,
            router=self.router,
            prefix=self.settings.route_prefix,
            scheme_name=self.bearer_scheme.scheme_name,
            create_tables=self.create_tables if create_tables else None,
        )

    async def _at_shutdown(self) -> None:
        """The router lifespan's last work: pending key uses, account messages, events."""
        await self._key_recorder.aclose()
        await self.drain_events()

    async def check_health(self) -> None:
        """Ask the token store one cheap question (what `GET /health` does).

        Raises:
            TokenStoreUnavailableError: the database does not answer or lacks the tables.
        """
        await self._health.check()

    @property
    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set (RFC 7517) of the public verification keys; empty for HS*."""
        return self._keys.jwks()

    @property
    def metadata(self) -> MetaData:
        """The token tables' `MetaData` (also `authmanager.metadata`)."""
        return metadata


def _login_rule(settings: AuthSettings) -> Callable[[object], None] | None:
    """The account rule `/login` applies after the password: a verified email, if required."""
    if not settings.require_verified_email:
        return None

    def verified_email(user: object) -> None:
        ensure_login_allowed(user, require_verified_email=True)

    return verified_email


def _with_audit_log(hooks: list[Hook], audit_log: bool) -> list[Hook]:
    """*hooks*, plus an `AuditLogHook` when the audit log is on and none is among them."""
    if audit_log and not any(isinstance(hook, AuditLogHook) for hook in hooks):
        return [*hooks, AuditLogHook()]
    return hooks


def _check_loader(loader: object) -> None:
    for name in ("get_user", "get_user_by_login"):
        method: Callable[..., Any] | None = getattr(loader, name, None)
        if method is None or not inspect.iscoroutinefunction(method):
            raise TypeError(
                f"user_loader must have 'async def {name}(self, session, ...)'; "
                f"{type(loader).__name__} does not. See authmanager.loaders.UserLoader."
            )
    setter = getattr(loader, "set_password_hash", None)
    if setter is not None and not inspect.iscoroutinefunction(setter):
        raise TypeError("user_loader.set_password_hash must be 'async def'.")
