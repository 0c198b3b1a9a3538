"""AuthManager: the composition root, and the contract's methods as orchestration."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager._clock import utcnow
from authmanager._events import HookDispatcher
from authmanager._issuer import Issuer, Minted, SessionClaims, new_id, split_data
from authmanager._keys import KeyRing
from authmanager._passwords import PasswordHasher, PasswordTooLongError
from authmanager._ratelimit import LoginLimiter
from authmanager._settings import AuthSettings
from authmanager._sqlite import configure_sqlite
from authmanager._store import TokenState, TokenStore
from authmanager._tokens import TokenCodec, TokenPair, TokenPayload, TokenType
from authmanager._types import ClientInfo, SessionInfo
from authmanager.exceptions import (
    AuthError,
    ExpiredTokenError,
    InvalidCredentialsError,
    InvalidTokenError,
    RateLimitExceededError,
    Reason,
    RevokedTokenError,
)
from authmanager.hooks import EventName, Hook
from authmanager.loaders import UserLoader

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = ["AuthManager"]

logger = logging.getLogger("authmanager")
UserT = TypeVar("UserT")
_NO_CLIENT = ClientInfo()


def _active(user: object) -> bool:
    return getattr(user, "is_active", True) is not False


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
        self._store = TokenStore(session_factory)
        self._passwords = PasswordHasher(settings)
        self._users = user_loader
        self._events = HookDispatcher(list(hooks), timeout=settings.hook_timeout_seconds)
        self._limiter = LoginLimiter(settings)
        self._grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)
        if settings.sqlite_pragmas:
            configure_sqlite(session_factory)
        from authmanager._binding import Binder
        from authmanager._dependencies import build_dependencies
        from authmanager._websocket import build_websocket_user

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
        from authmanager._router import build_router

        return build_router(self)

    @property
    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set (RFC 7517) of the public verification keys; empty for HS*."""
        return self._keys.jwks()

    @property
    def metadata(self) -> Any:
        """The token tables' `MetaData` (also `authmanager.metadata`)."""
        from authmanager._models import metadata

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
        client = client or _NO_CLIENT
        ctx = {"client_ip": client.ip_address, "user_agent": client.user_agent}
        try:
            await self._limiter.check_login(client.ip_address, login)
        except RateLimitExceededError as exc:
            self._events.emit(
                EventName.LOGIN_RATE_LIMITED,
                reason=Reason.RATE_LIMITED,
                extra={"retry_after": exc.retry_after},
                **ctx,
            )
            raise
        try:
            self._passwords.check_length(password)
        except PasswordTooLongError:
            await self._login_failed(client, login, Reason.PASSWORD_TOO_LONG, ctx)
        async with self._store.reading(session) as db:
            user = await self._users.get_user_by_login(db, login)
        hashed = getattr(user, "hashed_password", None) if user is not None else None
        if not await self._passwords.verify_async(password, hashed) or user is None:
            await self._login_failed(client, login, Reason.BAD_CREDENTIALS, ctx)
        assert user is not None  # noqa: S101 - for the type checker
        assert hashed is not None  # noqa: S101
        user_id = str(user.id)  # type: ignore[attr-defined]
        if not _active(user):
            await self._login_failed(
                client, login, Reason.USER_INACTIVE, {**ctx, "user_id": user_id}
            )
        await self._upgrade_hash(user, user_id, password, hashed, session, ctx)
        self._events.emit(EventName.LOGIN_SUCCEEDED, user_id=user_id, **ctx)
        return user

    async def _login_failed(
        self, client: ClientInfo, login: str, reason: Reason, ctx: Mapping[str, Any]
    ) -> None:
        await self._limiter.record_failure(client.ip_address, login)
        self._events.emit(EventName.LOGIN_FAILED, reason=reason, **ctx)
        raise InvalidCredentialsError(reason=reason)

    async def _upgrade_hash(
        self,
        user: UserT,
        user_id: str,
        password: str,
        hashed: str,
        session: AsyncSession | None,
        ctx: Mapping[str, Any],
    ) -> None:
        setter = getattr(self._users, "set_password_hash", None)
        if setter is None or not self._passwords.needs_rehash(hashed):
            return
        new_hash = await self._passwords.hash_async(password)
        async with self._store.transaction(session) as db:
            await setter(db, user, new_hash)
        self._events.emit(EventName.PASSWORD_REHASHED, user_id=user_id, **ctx)

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
        setter = getattr(self._users, "set_password_hash", None)
        if setter is None:
            raise TypeError("change_password needs a user loader with set_password_hash().")
        new_hash = await self._passwords.hash_async(new_password)
        user_id = str(user.id)  # type: ignore[attr-defined]
        now = utcnow()
        async with self._store.transaction(session) as db:
            await setter(db, user, new_hash)
            count = await self._store.revoke_user(
                db, user_id, now=now, keep_session_id=keep_session_id, reason="password_changed"
            )
        self._events.emit(
            EventName.LOGOUT_ALL,
            user_id=user_id,
            reason="password_changed",
            extra={"revoked": count},
        )
        return count

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
        sub, custom = split_data(data)
        now = utcnow()
        life = self._issuer.access_lifetime if expires_in is None else expires_in
        if life <= timedelta(0):
            raise ValueError("expires_in must be positive.")
        sid, claims, minted = new_id(), SessionClaims(custom, audience, issuer), Minted()
        jti = self._issuer.mint(
            minted,
            token_type="access",
            sub=sub,
            session_id=sid,
            claims=claims,
            now=now,
            session_end=now + life,
            lifetime=life,
        )
        async with self._store.transaction(session) as db:
            await self._store.insert_session(
                db,
                id=sid,
                user_id=sub,
                created_at=now,
                last_used_at=now,
                expires_at=now + life,
                refresh_expires_at=None,
                claims=claims.to_json(),
            )
            await self._store.insert_tokens(db, minted.rows)
        self._events.emit(EventName.TOKEN_ISSUED, user_id=sub, session_id=sid, token_id=jti)
        return minted.access_token

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
        sub, custom = split_data(data)
        client = client or _NO_CLIENT
        now = utcnow()
        binding = self._binder.session_binding(client)
        sid, claims, minted = new_id(), SessionClaims(custom, audience, issuer, binding), Minted()
        end = now + self._issuer.session_lifetime
        extra = {"fresh": True} if fresh else None
        access_jti = self._issuer.mint(
            minted,
            token_type="access",
            sub=sub,
            session_id=sid,
            claims=claims,
            now=now,
            session_end=end,
            extra=extra,
        )
        self._issuer.mint(
            minted,
            token_type="refresh",
            sub=sub,
            session_id=sid,
            claims=claims,
            now=now,
            session_end=end,
        )
        async with self._store.transaction(session) as db:
            await self._store.insert_session(
                db,
                id=sid,
                user_id=sub,
                created_at=now,
                last_used_at=now,
                expires_at=end,
                refresh_expires_at=minted.refresh_expires,
                claims=claims.to_json(),
                user_agent=(client.user_agent or None) and client.user_agent[:512],
                ip_address=(client.ip_address or None) and client.ip_address[:64],
                device_id=(client.device_id or None) and client.device_id[:128],
                dpop_jkt=client.dpop_jkt,
            )
            await self._store.insert_tokens(db, minted.rows)
        self._events.emit(
            EventName.TOKEN_ISSUED,
            user_id=sub,
            session_id=sid,
            token_id=access_jti,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
        )
        return self._issuer.pair(minted, sid, now)

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
        started = time.perf_counter()
        try:
            payload = self._codec.decode(
                token, token_type=token_type, audience=audience, issuer=issuer
            )
            async with self._store.connection(session) as db:
                state = await self._store.token_state(db, payload.jti)
            self._check_state(payload, state, utcnow())
        except InvalidTokenError as exc:
            self._rejected(exc, token, client)
            raise
        if self._events.observes_latency:
            self._events.observe_verify(time.perf_counter() - started)
        return payload

    async def _verify_for_user(self, token: str, client: ClientInfo) -> tuple[TokenPayload, UserT]:
        """Verify an access token and load its user with one session (the hot path)."""
        started = time.perf_counter()
        try:
            payload = self._codec.decode(token, token_type="access")
            async with self._store.user_reading() as (conn, db):
                state = await self._store.token_state(conn, payload.jti)
                self._check_state(payload, state, utcnow())
                user = await self._users.get_user(db, payload.sub)
            if user is None:
                raise RevokedTokenError(
                    "The token's user no longer exists.", reason=Reason.USER_NOT_FOUND
                )
            if not _active(user):
                raise RevokedTokenError(
                    "The token's user is inactive.", reason=Reason.USER_INACTIVE
                )
        except InvalidTokenError as exc:
            self._rejected(exc, token, client)
            raise
        if self._events.observes_latency:
            self._events.observe_verify(time.perf_counter() - started)
        return payload, user

    def _check_state(self, payload: TokenPayload, state: TokenState | None, now: datetime) -> None:
        if state is None:
            raise RevokedTokenError(
                "The token is unknown to the store.", reason=Reason.UNKNOWN_TOKEN
            )
        if (
            state.type != payload.type
            or state.session_id != payload.sid
            or state.user_id != payload.sub
        ):
            raise InvalidTokenError("The token does not match its record.")
        if state.revoked_at is not None:
            raise RevokedTokenError()
        if not state.session_alive(now):
            if state.session_revoked_at is None and state.session_expires_at <= now:
                raise ExpiredTokenError(
                    "The login session has expired.", reason=Reason.SESSION_EXPIRED
                )
            raise RevokedTokenError("The login session has ended.", reason=Reason.SESSION_REVOKED)

    def _rejected(self, exc: AuthError, token: object, client: ClientInfo | None) -> None:
        if not self._events.active:
            return
        client = client or _NO_CLIENT
        ids = _unverified_ids(token) if exc.reason not in _UNTRUSTED_IDS else {}
        self._events.emit(
            EventName.TOKEN_REJECTED,
            reason=exc.reason,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            **ids,
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
        from authmanager._rotation import rotate

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
        from authmanager._rotation import reissue_access

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
        try:
            payload = self._decode_any(token)
        except ExpiredTokenError:
            return False
        now = utcnow()
        async with self._store.transaction(session) as db:
            if payload.type == "refresh":
                count = await self._store.revoke_session(
                    db, payload.sid, now=now, reason="revoked", user_id=payload.sub
                )
                live = count >= 0
            else:
                live = await self._store.revoke_token(db, payload.jti, now=now, reason="revoked")
        if live:
            self._events.emit(
                EventName.TOKEN_REVOKED,
                user_id=payload.sub,
                session_id=payload.sid,
                token_id=payload.jti,
                reason="revoked",
            )
        return live

    def _decode_any(self, token: str) -> TokenPayload:
        try:
            return self._codec.decode(token, token_type="access")
        except InvalidTokenError as exc:
            if exc.reason != Reason.WRONG_TYPE:
                raise
        return self._codec.decode(token, token_type="refresh")

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
        return await self._revoke_all(str(user_id), exclude_token_id, session)

    async def _revoke_all(
        self,
        user_id: str,
        exclude_token_id: str | None,
        session: AsyncSession | None,
        event: EventName = EventName.TOKEN_REVOKED,
        **fields: Any,
    ) -> int:
        """`revoke_all_user_tokens`, reporting one *event* (`logout_all` from the route)."""
        now = utcnow()
        async with self._store.transaction(session) as db:
            keep = None
            if exclude_token_id is not None:
                row = await self._store.get_token(db, exclude_token_id)
                keep = row.session_id if row is not None and row.user_id == user_id else None
            count = await self._store.revoke_user(
                db, str(user_id), now=now, keep_session_id=keep, reason="revoke_all"
            )
        base = {"session_id": keep, "reason": "revoke_all", "extra": {"revoked": count}}
        self._events.emit(event, user_id=user_id, **{**base, **fields})
        return count

    async def list_sessions(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[SessionInfo]:
        """Return the user's active login sessions, newest first.

        Raises:
            TokenStoreUnavailableError: the store could not be read.
        """
        now = utcnow()
        async with self._store.reading(session) as db:
            rows = await self._store.list_sessions(db, str(user_id), now)
        return [
            SessionInfo(
                id=row.id,
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                expires_at=min(row.expires_at, row.refresh_expires_at or row.expires_at),
                user_agent=row.user_agent,
                ip_address=row.ip_address,
            )
            for row in rows
        ]

    async def revoke_session(
        self, user_id: str, session_id: str, *, session: AsyncSession | None = None
    ) -> bool:
        """End one session of the user; return False when it is not a live session of theirs.

        Never touches another user's session.

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._end_session(str(user_id), session_id, session)

    async def _end_session(
        self,
        user_id: str,
        session_id: str,
        session: AsyncSession | None,
        event: EventName = EventName.SESSION_REVOKED,
        **fields: Any,
    ) -> bool:
        """`revoke_session`, reporting one *event* (`logout` from the logout route)."""
        async with self._store.transaction(session) as db:
            count = await self._store.revoke_session(
                db, session_id, now=utcnow(), reason="session_revoked", user_id=user_id
            )
        if count < 0:
            return False
        base = {"reason": "session_revoked", "extra": {"revoked": count}}
        self._events.emit(event, user_id=user_id, session_id=session_id, **{**base, **fields})
        return True

    async def purge_expired(self, *, session: AsyncSession | None = None) -> int:
        """Delete the rows of tokens past expiry (and of sessions left empty); return the count.

        Raises:
            TokenStoreUnavailableError: nothing was deleted.
        """
        async with self._store.transaction(session) as db:
            return await self._store.purge(db, now=utcnow())

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

    async def _login_claims(self, user: UserT) -> dict[str, Any]:
        """The claims of a password login: `sub`, plus the loader's `token_claims(user)`."""
        claims: dict[str, Any] = {}
        extra = getattr(self._users, "token_claims", None)
        if extra is not None:
            produced = extra(user)
            if inspect.isawaitable(produced):
                produced = await produced
            claims.update(produced or {})
        claims["sub"] = str(user.id)  # type: ignore[attr-defined]
        return claims

    async def _fresh_access_token(
        self, payload: TokenPayload, password: str, *, client: ClientInfo
    ) -> tuple[str, int]:
        from authmanager._rotation import fresh_access

        return await fresh_access(self, payload, password, client)

    async def drain_events(self) -> None:
        """Wait until every event emitted so far has reached the hooks (for tests, shutdown)."""
        await self._events.drain()


_UNTRUSTED_IDS = frozenset(
    {
        Reason.MALFORMED,
        Reason.OVERSIZED,
        Reason.FORBIDDEN_HEADER,
        Reason.ALGORITHM,
        Reason.UNKNOWN_KEY,
        Reason.SIGNATURE,
    }
)


def _unverified_ids(token: object) -> dict[str, str]:
    """The ids of a signed-but-refused token, for its rejection event (never the token)."""
    import jwt

    try:
        claims = jwt.decode(str(token), options={"verify_signature": False})
    except Exception:
        return {}
    ids = {
        "user_id": claims.get("sub"),
        "session_id": claims.get("sid"),
        "token_id": claims.get("jti"),
    }
    return {k: v[:64] for k, v in ids.items() if isinstance(v, str)}


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
