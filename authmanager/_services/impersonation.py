"""ImpersonationService: one short access token for an administrator acting as a user."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.issuer import Issuer, Minted, SessionClaims, new_id, split_data
from authmanager._core.store import TokenStore
from authmanager._core.types import ClientInfo
from authmanager._services.liveness import user_is_active
from authmanager._services.sessions import SessionService
from authmanager.hooks import EventName
from authmanager.loaders import UserLoader

__all__ = ["MAX_IMPERSONATION", "MAX_REASON_LENGTH", "ImpersonationService"]

UserT = TypeVar("UserT")

#: The longest an impersonation token may live (the contract's bound).
MAX_IMPERSONATION = timedelta(minutes=15)
MAX_REASON_LENGTH = 500
_MAX_ID_LENGTH = 255


def _check_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID_LENGTH:
        raise ValueError(f"{name} must be a non-empty string of at most {_MAX_ID_LENGTH} chars.")
    return value


def _check_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("An impersonation needs a reason (it goes to the audit trail).")
    text = reason.strip()
    if len(text) > MAX_REASON_LENGTH:
        raise ValueError(f"The reason must be at most {MAX_REASON_LENGTH} characters.")
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("The reason must not contain control characters.")
    return text


class ImpersonationService(Generic[UserT]):
    """Let an administrator act as a user, openly: RFC 8693 `act`, short, audited.

    The token is the only one of a session of its own, recorded with the actor's id
    (`SessionInfo.impersonated_by`), so the target sees it in their sessions and ends
    it with logout-all or by deleting it. It has no refresh token and never the `fresh`
    mark, so `fresh_user` (password changes, new factors, API keys) refuses it.

    Args:
        issuer: Mints the token and its row.
        store: The token tables.
        database: Transactions.
        sessions: The claims of a login of the target (`login_claims`).
        users: The application's loader (the target must exist and be active).
        events: Where `impersonation.started` and `token.issued` go.
    """

    def __init__(
        self,
        *,
        issuer: Issuer,
        store: TokenStore,
        database: Database,
        sessions: SessionService[UserT],
        users: UserLoader[UserT],
        events: HookDispatcher,
    ) -> None:
        self._issuer = issuer
        self._store = store
        self._database = database
        self._sessions = sessions
        self._users = users
        self._events = events
        self._default = min(issuer.access_lifetime, MAX_IMPERSONATION)

    async def impersonate(
        self,
        actor_id: str,
        target_id: str,
        *,
        reason: str,
        expires_in: timedelta | None = None,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """Return one access token for *target_id* carrying `act: {"sub": actor_id}`.

        Raises:
            ValueError: a bad id or reason, the actor is the target, *expires_in* is not
                positive or over 15 minutes, or the target is missing or inactive.
            TokenStoreUnavailableError: nothing was issued.
        """
        actor_id, target_id = _check_id(actor_id, "actor_id"), _check_id(target_id, "target_id")
        reason = _check_reason(reason)
        if actor_id == target_id:
            raise ValueError("An administrator cannot impersonate themselves.")
        life = self._default if expires_in is None else expires_in
        if life <= timedelta(0) or life > MAX_IMPERSONATION:
            raise ValueError("expires_in must be positive and at most 15 minutes.")
        client = client or ClientInfo()
        now, sid, minted = utcnow(), new_id(), Minted()
        async with self._database.transaction(session) as db:
            target = await self._users.get_user(db, target_id)
            if target is None or not user_is_active(target):
                raise ValueError("The user to impersonate does not exist or is inactive.")
            claims = await self._session_claims(target, actor_id)
            jti = self._issuer.mint(
                minted,
                token_type="access",
                sub=target_id,
                session_id=sid,
                claims=claims,
                now=now,
                session_end=now + life,
                lifetime=life,
            )
            await self._store.insert_session(
                db,
                id=sid,
                user_id=target_id,
                created_at=now,
                last_used_at=now,
                expires_at=now + life,
                refresh_expires_at=None,
                claims=claims.to_json(),
                user_agent=client.user_agent[:512] if client.user_agent else None,
                ip_address=client.ip_address[:64] if client.ip_address else None,
                impersonated_by=actor_id,
            )
            await self._store.insert_tokens(db, minted.rows)
        fields: dict[str, Any] = {
            "user_id": target_id,
            "session_id": sid,
            "token_id": jti,
            "client_ip": client.ip_address,
            "user_agent": client.user_agent,
        }
        self._events.emit(
            EventName.IMPERSONATION_STARTED,
            extra={"actor_id": actor_id, "reason": reason},
            **fields,
        )
        self._events.emit(EventName.TOKEN_ISSUED, reason="impersonation", **fields)
        return minted.access_token

    async def _session_claims(self, target: UserT, actor_id: str) -> SessionClaims:
        """The target's login claims, with RFC 8693 §4.1 `act` naming the actor."""
        _, custom = split_data(await self._sessions.login_claims(target))
        # Stored with the session, so every token it could ever mint names the actor.
        custom["act"] = {"sub": actor_id}
        return SessionClaims(custom, None, None)
