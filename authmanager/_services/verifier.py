"""Verifier: the one verification path of access and refresh tokens (the hot path).

`token_data`, `current_user`, `optional_user`, `fresh_user`, the scope and validator
dependencies, the routes and the WebSocket all come here; the liveness rules themselves
live in `liveness.py`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.rows import TokenState
from authmanager._core.statecache import StateCache
from authmanager._core.store import TokenStore
from authmanager._core.tokens import TokenCodec, TokenPayload, TokenType
from authmanager._core.types import ClientInfo
from authmanager._services.liveness import check_token_state, require_live_user
from authmanager._services.rejections import RejectionReporter
from authmanager.exceptions import InvalidTokenError
from authmanager.loaders import JoinedUser, UserLoader

__all__ = ["Verifier"]

UserT = TypeVar("UserT")


class Verifier(Generic[UserT]):
    """Verify tokens completely: signature and claims, then the stored state.

    Args:
        codec: Decodes and checks the JWT itself.
        store: Reads the token's state (token, session, user watermark) in one statement.
        database: Opens the connections the reads run on.
        state_cache: Live states kept between requests, or None.
        users: The application's user loader.
        reporter: Reports every refusal as an event.
        events: For the verification-latency observers.
    """

    def __init__(
        self,
        *,
        codec: TokenCodec,
        store: TokenStore,
        database: Database,
        state_cache: StateCache | None,
        users: UserLoader[UserT],
        reporter: RejectionReporter,
        events: HookDispatcher,
    ) -> None:
        self._codec = codec
        self._store = store
        self._database = database
        self._cache = state_cache
        self._users = users
        self._reporter = reporter
        self._events = events
        joined = getattr(users, "joined_user", None)
        self._joined: Callable[[str], JoinedUser | None] = (
            joined if callable(joined) else lambda _user_id: None
        )

    async def verify(
        self,
        token: str,
        *,
        token_type: TokenType = "access",
        audience: str | None = None,
        issuer: str | None = None,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> TokenPayload:
        """Verify *token* fully and return its payload (see `AuthManager.verify_token`)."""
        started = time.perf_counter()
        try:
            payload = self._codec.decode(
                token, token_type=token_type, audience=audience, issuer=issuer
            )

            async def read() -> TokenState | None:
                return await self._database.read(
                    lambda db: self._store.token_state(db, payload.jti), session
                )

            await self._check_live(payload, read, cached=session is None and token_type == "access")
        except InvalidTokenError as exc:
            self._reporter.report(exc, token, client)
            raise
        self._observe(started)
        return payload

    async def verify_with_user(
        self, token: str, client: ClientInfo | None = None
    ) -> tuple[TokenPayload, UserT]:
        """Verify an access token and load its live user, in one round trip when it can.

        A cached state leaves only the user to read; otherwise a loader that offers
        `joined_user` gets its user row in the token-state statement itself.

        Raises:
            RevokedTokenError: also when the user is gone or inactive.
            InvalidTokenError: as `verify`.
            TokenStoreUnavailableError: the store could not be asked.
        """
        started = time.perf_counter()
        try:
            payload = self._codec.decode(token, token_type="access")
            user = await self._database.read_with_session(
                lambda conn, db: self._state_and_user(payload, conn, db)
            )
            user = require_live_user(user)
        except InvalidTokenError as exc:
            self._reporter.report(exc, token, client)
            raise
        self._observe(started)
        return payload, user

    async def _state_and_user(
        self, payload: TokenPayload, conn: AsyncSession | AsyncConnection, db: AsyncSession
    ) -> UserT | None:
        """The token's state (cached or read) checked live, and its user row."""
        cache = self._cache
        state = None if cache is None else cache.lookup(payload)
        if state is None:
            return await self._read_with_user(payload, conn, db)
        check_token_state(payload, state, utcnow())
        return await self._users.get_user(db, payload.sub)

    async def _read_with_user(
        self, payload: TokenPayload, conn: AsyncSession | AsyncConnection, db: AsyncSession
    ) -> UserT | None:
        """Read the token's state (and, when the loader allows, its user) from the database."""
        cache = self._cache
        mark = None if cache is None else cache.mark(payload)  # before the SELECT
        joined = self._joined(payload.sub)
        if joined is not None:
            state, user = await self._store.token_state_with_user(db, payload.jti, joined)
        else:
            state = await self._store.token_state(conn, payload.jti)
        check_token_state(payload, state, utcnow())
        if joined is None:
            user = await self._users.get_user(db, payload.sub)
        if cache is not None and mark is not None and state is not None:
            cache.store(payload.jti, mark, state)
        result: UserT | None = user
        return result

    async def recheck(self, payload: TokenPayload) -> None:
        """Read *payload*'s stored state and its user again, bypassing the cache.

        For an open WebSocket: the rules of `verify_with_user`, on one connection.

        Raises:
            RevokedTokenError, ExpiredTokenError: the token or its session ended, or
                its user is gone or inactive.
            TokenStoreUnavailableError: the store could not be asked.
        """
        user = await self._database.read_with_session(
            lambda conn, db: self._recheck_read(payload, conn, db)
        )
        require_live_user(user)

    async def _recheck_read(
        self, payload: TokenPayload, conn: AsyncSession | AsyncConnection, db: AsyncSession
    ) -> UserT | None:
        """The token's stored state, checked, then its user row (never from the cache)."""
        check_token_state(payload, await self._store.token_state(conn, payload.jti), utcnow())
        return await self._users.get_user(db, payload.sub)

    async def _check_live(
        self,
        payload: TokenPayload,
        read: Callable[[], Awaitable[TokenState | None]],
        *,
        cached: bool,
    ) -> None:
        """Check the token's stored state: from the state cache on a live hit, else by *read*."""
        cache = self._cache if cached else None
        state = None if cache is None else cache.lookup(payload)
        if state is not None:
            check_token_state(payload, state, utcnow())
            return
        mark = None if cache is None else cache.mark(payload)  # before the SELECT
        state = await read()
        check_token_state(payload, state, utcnow())
        if cache is not None and mark is not None and state is not None:
            cache.store(payload.jti, mark, state)

    def _observe(self, started: float) -> None:
        if self._events.observes_latency:
            self._events.observe_verify(time.perf_counter() - started)
