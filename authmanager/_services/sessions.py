"""SessionService: start login sessions, list them, and decide whether one may mint tokens."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.issuer import Issuer, Minted, SessionClaims, new_id, split_data
from authmanager._core.rows import SessionRow
from authmanager._core.store import TokenStore
from authmanager._core.tokens import TokenPair, TokenPayload
from authmanager._core.types import ClientInfo, SessionInfo
from authmanager._services.binding import Binder
from authmanager._services.liveness import (
    check_session,
    require_live_user,
    user_id_of,
    user_is_active,
)
from authmanager.exceptions import InvalidCredentialsError, Reason
from authmanager.hooks import EventName
from authmanager.loaders import UserLoader

__all__ = ["SessionService"]

UserT = TypeVar("UserT")


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


class SessionService(Generic[UserT]):
    """Start login sessions (pairs or single access tokens) and read them back.

    Args:
        issuer: Mints the JWTs and the rows that track them.
        store: The token tables.
        database: Transactions.
        binder: The binding claims of a new session (device, DPoP key, ...).
        users: The application's loader (its optional `token_claims(user)`).
        events: Where `token.issued` goes.
    """

    def __init__(
        self,
        *,
        issuer: Issuer,
        store: TokenStore,
        database: Database,
        binder: Binder,
        users: UserLoader[UserT],
        events: HookDispatcher,
    ) -> None:
        self._issuer = issuer
        self._store = store
        self._database = database
        self._binder = binder
        self._users = users
        self._events = events

    async def create_access_token(
        self,
        data: Mapping[str, Any],
        *,
        audience: str | None,
        issuer: str | None,
        expires_in: timedelta | None,
        session: AsyncSession | None,
    ) -> str:
        """Issue one tracked access token in a session of its own (see the manager)."""
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
        async with self._database.transaction(session) as db:
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
        audience: str | None,
        issuer: str | None,
        client: ClientInfo,
        fresh: bool,
        amr: Sequence[str] = (),
        session: AsyncSession | None,
    ) -> TokenPair:
        """Start a login session with an access and a refresh token (see the manager)."""
        pair, sub, access_jti = await self._open(
            data,
            audience=audience,
            issuer=issuer,
            client=client,
            fresh=fresh,
            amr=amr,
            session=session,
        )
        self._issued(pair, sub, access_jti, client)
        return pair

    async def _open(
        self,
        data: Mapping[str, Any],
        *,
        audience: str | None,
        issuer: str | None,
        client: ClientInfo,
        fresh: bool,
        amr: Sequence[str],
        session: AsyncSession | None,
    ) -> tuple[TokenPair, str, str]:
        """Write a new session and its two tokens; return the pair, `sub` and access `jti`."""
        sub, custom = split_data(data)
        now = utcnow()
        binding = self._binder.session_binding(client)
        claims = SessionClaims(custom, audience, issuer, binding, tuple(amr))
        sid, minted = new_id(), Minted()
        end = now + self._issuer.session_lifetime
        access_jti = self._issuer.mint(
            minted,
            token_type="access",
            sub=sub,
            session_id=sid,
            claims=claims,
            now=now,
            session_end=end,
            extra={"fresh": True} if fresh else None,
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
        async with self._database.transaction(session) as db:
            await self._store.insert_session(
                db,
                id=sid,
                user_id=sub,
                created_at=now,
                last_used_at=now,
                expires_at=end,
                refresh_expires_at=minted.refresh_expires,
                claims=claims.to_json(),
                user_agent=_cut(client.user_agent, 512),
                ip_address=_cut(client.ip_address, 64),
                device_id=_cut(client.device_id, 128),
                dpop_jkt=client.dpop_jkt,
            )
            await self._store.insert_tokens(db, minted.rows)
        return self._issuer.pair(minted, sid, now), sub, access_jti

    def _issued(self, pair: TokenPair, sub: str, access_jti: str, client: ClientInfo) -> None:
        self._events.emit(
            EventName.TOKEN_ISSUED,
            user_id=sub,
            session_id=pair.session_id,
            token_id=access_jti,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
        )

    async def start(
        self,
        user: UserT,
        *,
        client: ClientInfo,
        amr: Sequence[str],
        fresh: bool = True,
        scopes: Collection[str] | None = None,
        session: AsyncSession | None = None,
        announce: bool = False,
    ) -> TokenPair:
        """Start a login session for *user*, who has just proved who they are by *amr*.

        The tokens carry the loader's `token_claims(user)` and `amr`; *fresh* marks the
        access token as a recent sign-in (for `fresh_user`). *scopes* are the scopes
        the client asked for (the OAuth 2.0 `scope` of `/login`): the session gets only
        those of the user's scopes, never more, and `TokenPair.scope` names them. With
        *announce*, reports `login.succeeded`, naming the new session (and `amr`), before
        `token.issued`; flows that report their own `login.succeeded` leave it false. An
        inactive user never gets a session, whatever proved who they are.

        Raises:
            InvalidCredentialsError: the user is inactive (the answer of a wrong
                password: which it was goes to the `login.failed` event only).
            TokenStoreUnavailableError: nothing was issued.
        """
        if not user_is_active(user):  # the one rule, whichever flow calls
            self._events.emit(
                EventName.LOGIN_FAILED,
                user_id=user_id_of(user),
                client_ip=client.ip_address,
                user_agent=client.user_agent,
                reason=Reason.USER_INACTIVE,
            )
            raise InvalidCredentialsError()
        claims = await self.login_claims(user)
        granted = None
        if scopes is not None:
            wanted, held = set(scopes), claims.get("scopes") or []
            held = held.split() if isinstance(held, str) else list(held)
            claims["scopes"] = [s for s in held if s in wanted]
            granted = " ".join(claims["scopes"])
        pair, sub, access_jti = await self._open(
            claims,
            audience=None,
            issuer=None,
            client=client,
            fresh=fresh,
            amr=amr,
            session=session,
        )
        if announce:
            self._events.emit(
                EventName.LOGIN_SUCCEEDED,
                user_id=sub,
                session_id=pair.session_id,
                client_ip=client.ip_address,
                user_agent=client.user_agent,
                extra={"amr": " ".join(amr)},
            )
        self._issued(pair, sub, access_jti, client)
        return pair if granted is None else dataclasses.replace(pair, scope=granted)

    async def login_claims(self, user: UserT) -> dict[str, Any]:
        """The claims of a login: `sub`, plus the loader's optional `token_claims(user)`."""
        claims: dict[str, Any] = {}
        extra = getattr(self._users, "token_claims", None)
        if extra is not None:
            produced = extra(user)
            if inspect.isawaitable(produced):
                produced = await produced
            claims.update(produced or {})
        claims["sub"] = user_id_of(user)
        return claims

    async def list_sessions(self, user_id: str, session: AsyncSession | None) -> list[SessionInfo]:
        """Return the user's active login sessions, newest first."""
        now = utcnow()
        async with self._database.reading(session) as db:
            rows = await self._store.list_sessions(db, user_id, now)
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

    async def live_session(
        self, db: AsyncSession, payload: TokenPayload, session_id: str, now: datetime
    ) -> SessionRow:
        """Return the session if it and its user may still mint tokens; raise otherwise.

        Raises:
            InvalidTokenError, ExpiredTokenError, RevokedTokenError: see `liveness`.
        """
        row = check_session(payload, await self._store.get_session(db, session_id), now)
        require_live_user(await self._users.get_user(db, payload.sub))
        return row

    async def lock(self, db: AsyncSession, payload: TokenPayload) -> tuple[SessionRow | None, Any]:
        """Lock *payload*'s session row and read it, with its user when the loader allows.

        Returns the row (None when gone) and the user row (None when not joined: then
        `require_live` loads it).
        """
        joined = getattr(self._users, "joined_user", None)
        user = joined(payload.sub) if callable(joined) else None
        return await self._store.lock_session(db, payload.sid, user)

    async def require_live(
        self,
        db: AsyncSession,
        payload: TokenPayload,
        locked: tuple[SessionRow | None, Any],
        now: datetime,
    ) -> SessionRow:
        """`live_session` on a row read by `lock` (the user loaded now if it was not joined).

        Raises:
            InvalidTokenError, ExpiredTokenError, RevokedTokenError: see `liveness`.
        """
        row, user = locked
        row = check_session(payload, row, now)
        if user is None:
            user = await self._users.get_user(db, payload.sub)
        require_live_user(user)
        return row
