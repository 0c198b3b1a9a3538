"""AuthManager: the composition root, and the contract's methods as orchestration."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.issuer import Issuer
from authmanager._core.keys import KeyRing
from authmanager._core.passwords import PasswordHasher
from authmanager._core.ratelimit import LoginLimiter
from authmanager._core.settings import AuthSettings
from authmanager._core.sqlite import configure_sqlite
from authmanager._core.statecache import build_state_cache
from authmanager._core.store import TokenStore
from authmanager._core.tokens import TokenCodec, TokenPair, TokenPayload, TokenType
from authmanager._core.types import ClientInfo, SessionInfo
from authmanager._services import issuing as _issuing
from authmanager._services import login as _login
from authmanager._services import revocation as _revocation
from authmanager._services import verification as _verification
from authmanager.hooks import Hook
from authmanager.loaders import UserLoader

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = ["AuthManager"]

logger = logging.getLogger("authmanager")
UserT = TypeVar("UserT")
_NO_CLIENT = ClientInfo()


class AuthManager(Generic[UserT]):
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
        hooks: Callables that receive every `AuthEvent` (audit log, metrics).

    Raises:
        TypeError: The user loader lacks `get_user` or `get_user_by_login` coroutines.
        ValueError: The keys in the settings cannot be loaded.

    Example:
        ```python
        auth = AuthManager(settings=AuthSettings(), session_factory=factory,
                           user_loader=SQLAlchemyUserLoader(User))
        app.include_router(auth.router, prefix="/auth")
        ```
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        session_factory: async_sessionmaker[AsyncSession],
        user_loader: UserLoader[UserT],
        hooks: Iterable[Hook] = (),
    ) -> None:
        _check_loader(user_loader)
        settings.warn_if_insecure()
        self.settings = settings
        self.session_factory = session_factory
        self._keys = KeyRing(settings)
        self._codec = TokenCodec(settings, self._keys)
        self._issuer = Issuer(settings, self._codec)
        self._state_cache = build_state_cache(settings, session_factory)
        self._database = Database(session_factory, self._state_cache)
        self._store = TokenStore(self._database, self._state_cache)
        self._passwords = PasswordHasher(settings)
        self._users = user_loader
        self._events = HookDispatcher(list(hooks), timeout=settings.hook_timeout_seconds)
        self._limiter = LoginLimiter(settings)
        self._grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)
        if settings.sqlite_pragmas:
            configure_sqlite(session_factory)
        from authmanager._services.binding import Binder
        from authmanager._web.dependencies import build_dependencies
        from authmanager._web.websocket import build_websocket_user

        self._binder = Binder(self)
        deps = build_dependencies(self)
        self.websocket_user = build_websocket_user(self)
        self.current_user = deps.current_user
        self.optional_user = deps.optional_user
        self.token_data = deps.token_data
        self.fresh_user = deps.fresh_user
        self.refresh_token_from_cookie = deps.refresh_token_from_cookie
        self.logout = deps.logout
        self.logout_all = deps.logout_all
        self.bearer_scheme = deps.bearer
        self._transport = deps.transport
        self.token_validator = deps.token_validator
        self.require_scopes = deps.require_scopes

    @cached_property
    def router(self) -> APIRouter:
        """The `APIRouter` with `/login`, `/refresh`, `/logout`, sessions and JWKS."""
        from authmanager._web.router import build_router

        return build_router(self)

    @property
    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set (RFC 7517) of the public verification keys; empty for HS*."""
        return self._keys.jwks()

    @property
    def metadata(self) -> Any:
        """The token tables' `MetaData` (also `authmanager.metadata`)."""
        from authmanager._core.models import metadata

        return metadata

    # --- passwords -------------------------------------------------------------------
    def hash_password(self, password: str) -> str:
        """Hash *password* (bcrypt with an HMAC-SHA256 pre-hash, or Argon2id).

        Blocks for the hash's cost: from async code, prefer `await hash_password_async()`.

        Raises:
            ValueError: the password is longer than `max_password_bytes`.
        """
        return self._passwords.hash(password)

    async def hash_password_async(self, password: str) -> str:
        """Hash *password* on the hashing thread pool, off the event loop.

        Raises:
            ValueError: the password is longer than `max_password_bytes`.
        """
        return await self._passwords.hash_async(password)

    def verify_password(self, password: str, hashed: str) -> bool:
        """Return whether *password* matches *hashed*; never truncates at 72 bytes.

        Raises:
            ValueError: the password is longer than `max_password_bytes`.
        """
        return self._passwords.verify(password, hashed)

    def password_needs_rehash(self, hashed: str) -> bool:
        """Return whether *hashed* uses an outdated scheme or cost.

        Raises:
            Nothing: a malformed hash simply needs a rehash.
        """
        return self._passwords.needs_rehash(hashed)

    async def authenticate(
        self,
        login: str,
        password: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> UserT:
        """Return the user whose login and password match, off the event loop.

        An unknown login costs the same as a wrong password (a dummy hash is
        verified), and both raise the same error. Failed attempts count towards
        `login_rate_limit` per client IP and per login name; the limit is checked
        before any hashing. An outdated hash is upgraded when the loader has
        `set_password_hash`.

        Raises:
            InvalidCredentialsError: wrong login or password, or an inactive user.
            RateLimitExceededError: too many failed attempts; see `retry_after`.
            TokenStoreUnavailableError: the database or rate-limit storage is down.
        """
        user: UserT = await _login.authenticate(
            self, login, password, client or _NO_CLIENT, session
        )
        return user

    async def change_password(
        self,
        user: UserT,
        new_password: str,
        *,
        keep_session_id: str | None = None,
        session: AsyncSession | None = None,
    ) -> int:
        """Store a new password hash for *user* and end every other session.

        Hashing runs off the event loop; the loader's `set_password_hash` stores the
        hash, in the same transaction as the revocation. Returns the count of tokens
        revoked.

        Raises:
            TypeError: the user loader has no `set_password_hash`.
            ValueError: the password is longer than `max_password_bytes`.
            TokenStoreUnavailableError: the database failed; nothing was changed.
        """
        return await _login.change_password(self, user, new_password, keep_session_id, session)

    # --- issuing ---------------------------------------------------------------------
    async def create_access_token(
        self,
        data: Mapping[str, Any],
        *,
        audience: str | None = None,
        issuer: str | None = None,
        expires_in: timedelta | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """Issue one tracked access token, in a session of its own (no refresh token).

        For service-to-service or test tokens; `revoke_token` ends it at once.

        Raises:
            ValueError: `data["sub"]` is missing, or `data` holds a reserved claim.
            TokenStoreUnavailableError: the token could not be recorded.
        """
        return await _issuing.create_access_token(
            self, data, audience=audience, issuer=issuer, expires_in=expires_in, session=session
        )

    async def create_token_pair(
        self,
        data: Mapping[str, Any],
        *,
        audience: str | None = None,
        issuer: str | None = None,
        client: ClientInfo | None = None,
        fresh: bool = False,
        session: AsyncSession | None = None,
    ) -> TokenPair:
        """Start a login session: issue an access and a refresh token, in one transaction.

        Custom claims in *data* are kept for the session's life: tokens minted by
        `refresh` carry them too. Pass `fresh=True` right after a password check so
        the access token satisfies `fresh_user` for `fresh_token_minutes`.

        Raises:
            ValueError: `data["sub"]` is missing, or `data` holds a reserved claim.
            TokenStoreUnavailableError: nothing was issued.
        """
        return await _issuing.create_token_pair(
            self,
            data,
            audience=audience,
            issuer=issuer,
            client=client or _NO_CLIENT,
            fresh=fresh,
            session=session,
        )

    # --- verifying -------------------------------------------------------------------
    async def verify_token(
        self,
        token: str,
        *,
        token_type: TokenType = "access",
        audience: str | None = None,
        issuer: str | None = None,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> TokenPayload:
        """Verify *token* completely and return its payload.

        Checks the signature with the pinned algorithm and the key named by `kid`,
        `exp`/`nbf`/`iat` (with `leeway_seconds`), `aud`/`iss`, the type, and then the
        token store in one statement: the token, its session and the user's
        logout-everywhere mark.

        Raises:
            ExpiredTokenError: the token or its session has expired.
            RevokedTokenError: the token, its session or all the user's sessions ended.
            InvalidTokenError: any other defect; `reason` says which.
            TokenStoreUnavailableError: the store could not be asked; nothing passes.
        """
        return await _verification.verify(
            self,
            token,
            token_type=token_type,
            audience=audience,
            issuer=issuer,
            client=client,
            session=session,
        )

    # --- refreshing ------------------------------------------------------------------
    async def refresh(
        self,
        refresh_token: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> TokenPair:
        """Rotate a refresh token: return a new pair in the same session.

        The presented token is consumed by one conditional UPDATE, so of many
        concurrent refreshes of one token exactly one succeeds. A rotated token
        presented again ends the whole session (theft detection) unless it comes
        within `refresh_reuse_grace_seconds` of its rotation (two tabs racing), when
        it is only refused. The session's custom claims carry over; its absolute
        lifetime is never extended. A failure part-way changes nothing.

        Raises:
            RevokedTokenError: the token was rotated, revoked, or its session ended.
            ExpiredTokenError: the token or its session has expired.
            InvalidTokenError: the token is not a valid refresh token, or its user is
                gone or inactive.
            TokenStoreUnavailableError: nothing was changed.
        """
        from authmanager._services.rotation import rotate

        return await rotate(self, refresh_token, client or _NO_CLIENT, session)

    async def refresh_access_token(
        self,
        refresh_token: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """Return a new access token of the refresh token's session; the refresh token stays.

        A rotated refresh token is treated exactly as in `refresh`.

        Raises:
            RevokedTokenError: the token was rotated, revoked, or its session ended.
            ExpiredTokenError: the token or its session has expired.
            InvalidTokenError: the token is not a valid refresh token, or its user is
                gone or inactive.
            TokenStoreUnavailableError: nothing was changed.
        """
        from authmanager._services.rotation import reissue_access

        return await reissue_access(self, refresh_token, client or _NO_CLIENT, session)

    # --- revoking --------------------------------------------------------------------
    async def revoke_token(self, token: str, *, session: AsyncSession | None = None) -> bool:
        """Make *token* stop working at once; return whether it was live.

        Revoking a refresh token ends its whole session, as RFC 7009 §2.1 advises.
        An expired token is already dead: nothing happens and False is returned.

        Raises:
            InvalidTokenError: the token is forged, malformed or for another audience.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await _revocation.revoke_token(self, token, session)

    async def revoke_all_user_tokens(
        self,
        user_id: str,
        *,
        exclude_token_id: str | None = None,
        session: AsyncSession | None = None,
    ) -> int:
        """End every session of the user except the one holding token *exclude_token_id*.

        Also refuses, from now on, any token of a session that was being created
        while this ran (a racing login). Returns the count of tokens revoked.

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        return await _revocation.revoke_all(self, str(user_id), exclude_token_id, session)

    async def list_sessions(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[SessionInfo]:
        """Return the user's active login sessions, newest first.

        Raises:
            TokenStoreUnavailableError: the store could not be read.
        """
        return await _revocation.list_sessions(self, str(user_id), session)

    async def revoke_session(
        self, user_id: str, session_id: str, *, session: AsyncSession | None = None
    ) -> bool:
        """End one session of the user; return False when it is not a live session of theirs.

        Never touches another user's session.

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        return await _revocation.end_session(self, str(user_id), session_id, session)

    async def purge_expired(self, *, session: AsyncSession | None = None) -> int:
        """Delete the rows of tokens past expiry (and of sessions left empty); return the count.

        Raises:
            TokenStoreUnavailableError: nothing was deleted.
        """
        async with self._store.transaction(session) as db:
            return await self._store.purge(db, now=utcnow())

    async def invalidate_state_cache(self) -> None:
        """Make every process drop its cached token states (`state_cache` on; else no-op).

        The library's own revocations do this themselves; call it after revoking
        tokens, sessions or users with SQL of your own.

        Raises:
            TokenStoreUnavailableError: the notification could not be sent ("postgres").
        """
        await self._store.invalidate_cache()

    async def create_tables(self, engine: AsyncEngine | None = None) -> None:
        """Create the token tables (if missing) on *engine*, by default the factory's.

        For migrations, use `authmanager.metadata` with Alembic instead.

        Raises:
            TypeError: no engine was given and the session factory has no bind.
            TokenStoreUnavailableError: the database could not be reached.
        """
        bind = engine or self.session_factory.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("create_tables needs an AsyncEngine: pass engine= or bind the factory.")
        await self._store.create_tables(bind)

    async def drain_events(self) -> None:
        """Wait until every event emitted so far has reached the hooks (for tests, shutdown)."""
        await self._events.drain()


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
