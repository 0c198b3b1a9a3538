"""`AuthManager` methods: revocation, sessions, maintenance."""

from __future__ import annotations

from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager._core.events import HookDispatcher
from authmanager._core.loginlimit import LoginLimiter
from authmanager._core.statecache import StateCache
from authmanager._core.store import TokenStore
from authmanager._core.types import SessionInfo
from authmanager._services.revocation import RevocationService
from authmanager._services.sessions import SessionService
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._tokens import ActionTokens
from authmanager.apikeys import ApiKeyService, UsageRecorder
from authmanager.identities.flows import FlowStore
from authmanager.mfa import MfaService

__all__ = ["SessionMethods"]

UserT = TypeVar("UserT")


class SessionMethods(Generic[UserT]):
    """Revocation, session listing and maintenance."""

    session_factory: async_sessionmaker[AsyncSession]
    _sessions: SessionService[UserT]
    _revocations: RevocationService
    _store: TokenStore
    _events: HookDispatcher
    _limiter: LoginLimiter
    _state_cache: StateCache | None
    _api_keys: ApiKeyService
    _key_recorder: UsageRecorder
    _action_tokens: ActionTokens
    _outbox: Outbox | None
    _mfa: MfaService
    _identity_flows: FlowStore

    async def revoke_token(self, token: str, *, session: AsyncSession | None = None) -> bool:
        """Make *token* stop working at once; return whether it was live.

        Revoking a refresh token ends its whole session, as RFC 7009 §2.1 advises.
        An expired token is already dead: nothing happens and False is returned.

        Raises:
            InvalidTokenError: the token is forged, malformed or for another audience.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._revocations.revoke_token(token, session)

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
        return await self._revocations.revoke_all(str(user_id), exclude_token_id, session)

    async def list_sessions(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[SessionInfo]:
        """Return the user's active login sessions, newest first.

        Raises:
            TokenStoreUnavailableError: the store could not be read.
        """
        return await self._sessions.list_sessions(str(user_id), session)

    async def revoke_session(
        self, user_id: str, session_id: str, *, session: AsyncSession | None = None
    ) -> bool:
        """End one session of the user; return False when it is not a live session of theirs.

        Never touches another user's session.

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._revocations.end_session(str(user_id), session_id, session)

    async def purge_expired(self, *, session: AsyncSession | None = None) -> int:
        """Delete the rows of tokens past expiry (and of sessions left empty); return the count.

        API keys that are revoked or expired are deleted too, and counted; so are action
        tokens past expiry (used or not), expired `mfa_token`s and WebAuthn challenges,
        provider sign-ins never completed and native nonces past their ID token's expiry.

        Raises:
            TokenStoreUnavailableError: nothing was deleted.
        """
        count = await self._revocations.purge_expired(session)
        count += await self._api_keys.purge_expired(session=session)
        count += await self._action_tokens.purge(session=session)
        count += await self._mfa.purge_expired(session=session)
        return count + await self._identity_flows.purge_expired(session)

    async def invalidate_state_cache(self) -> None:
        """Make every process, on every host, drop its cached token states (else no-op).

        The library's own revocations drop exactly the states they concern; call this
        after revoking tokens, sessions or users with SQL of your own.

        Raises:
            TokenStoreUnavailableError: the notification could not be sent ("postgres").
        """
        await self._store.invalidate_cache()

    async def aclose(self) -> None:
        """Release what the manager holds open: the state cache's listener, pending events,
        the rate-limit storage's connections.

        Call it at shutdown (the lifespan of `install` does). API key uses not yet
        written (`last_used_at`) are written first, and pending account messages sent
        (their events then delivered).

        Raises:
            Nothing: failures are logged, never raised.
        """
        await self._key_recorder.aclose()
        await self.drain_events()
        if self._state_cache is not None:
            await self._state_cache.aclose()
        await self._limiter.aclose()

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
        """Wait until every event emitted so far has reached the hooks (for tests, shutdown).

        Account messages in the background (the outbox) are sent, or fail, first: their
        events are then delivered too.
        """
        if self._outbox is not None:
            await self._outbox.drain()
        await self._events.drain()

    async def reset_rate_limits(self) -> None:
        """Forget every failed login, refresh and provider sign-in counted so far (tests, admins).

        With a Redis storage this clears the counts of every manager on that Redis
        database.

        Raises:
            TokenStoreUnavailableError: the rate-limit storage could not be reached.
        """
        await self._limiter.reset()  # one storage: provider sign-in counts included
