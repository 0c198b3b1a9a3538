"""Admission: a verified identity signs in (a new session) or is linked, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Generic

from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, InvalidTokenError, Reason
from authmanager.hooks import EventName
from authmanager.identities.flows import FlowStore
from authmanager.identities.links import Link
from authmanager.identities.protocols import SessionStarter, UserT
from authmanager.identities.resolver import IdentityResolver
from authmanager.identities.types import ExternalIdentity

__all__ = ["AMR", "Admission"]

#: RFC 8176 registers no value for federated sign-in; "fed" is the one in use (Microsoft
#: Entra ID). The provider's own `amr` is not adopted: a claim of another party must not
#: satisfy this application's `require_mfa`.
AMR = ("fed",)


class Admission(Generic[UserT]):
    """Sign in or link a verified identity, and report it.

    The link, the loader's new account and the session commit together or not at all.

    Args:
        database: The library's transactions.
        resolver: Which user an identity is.
        flows: The replay records of native nonces.
        sessions: Starts the login session.
        events: The hook dispatcher.
    """

    def __init__(
        self,
        *,
        database: Database,
        resolver: IdentityResolver[UserT],
        flows: FlowStore,
        sessions: SessionStarter[UserT],
        events: HookDispatcher,
    ) -> None:
        self._db = database
        self._resolver = resolver
        self._flows = flows
        self._sessions = sessions
        self._events = events

    async def sign_in(
        self,
        identity: ExternalIdentity,
        client: ClientInfo,
        *,
        fresh: bool,
        replay_key: tuple[str, datetime] | None = None,
    ) -> tuple[TokenPair, Link]:
        """Start a session for *identity*'s user; *replay_key* makes it work once.

        Raises:
            InvalidTokenError: `INVALID_NONCE`, the replay key was used already.
            InvalidCredentialsError: see `IdentityResolver.sign_in`.
            AuthError: `IDENTITY_IN_USE`.
            TokenStoreUnavailableError: the database failed.
        """
        async with self._db.transaction() as db:
            if replay_key is not None and not await self._flows.use_once(db, *replay_key):
                raise InvalidTokenError(
                    "This nonce was already exchanged.", reason=Reason.INVALID_NONCE
                )
            user, link, created = await self._resolver.sign_in(db, identity)
            tokens = await self._sessions.start(
                user, client=client, amr=AMR, fresh=fresh, session=db
            )
        if created:
            self._linked(link, client)
        self._events.emit(
            EventName.LOGIN_SUCCEEDED,
            user_id=link.user_id,
            session_id=tokens.session_id,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            extra={"method": "provider", "provider": identity.provider},
        )
        return tokens, link

    async def link(self, user_id: str, identity: ExternalIdentity, client: ClientInfo) -> Link:
        """Link *identity* to the signed-in *user_id*.

        Raises:
            InvalidCredentialsError: `USER_NOT_FOUND` or `USER_INACTIVE`.
            AuthError: `IDENTITY_IN_USE`.
            TokenStoreUnavailableError: the database failed.
        """
        async with self._db.transaction() as db:
            link, created = await self._resolver.link(db, user_id, identity)
        if created:
            self._linked(link, client)
        return link

    def failed(self, provider: str, exc: AuthError, client: ClientInfo) -> None:
        """Report a refused sign-in (its reason, never its input)."""
        self._events.emit(
            EventName.LOGIN_FAILED,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            reason=str(exc.reason),
            extra={"method": "provider", "provider": provider},
        )

    def _linked(self, link: Link, client: ClientInfo) -> None:
        self._events.emit(
            EventName.IDENTITY_LINKED,
            user_id=link.user_id,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            extra={"provider": link.info.provider, "identity_id": link.info.id},
        )
