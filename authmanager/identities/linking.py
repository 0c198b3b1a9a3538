"""IdentityLinks: a user's linked identities, listed and unlinked.

It needs no provider and no optional extra, so the identities routes can work even
while no provider is configured (a user may still unlink an old identity).
"""

from __future__ import annotations

from typing import Generic

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, Reason
from authmanager.hooks import EventName
from authmanager.identities.links import IdentityStore
from authmanager.identities.protocols import IdentityUserLoader, OtherSignIn, UserT
from authmanager.identities.types import IdentityInfo

__all__ = ["IdentityLinks"]


class IdentityLinks(Generic[UserT]):
    """List and unlink a user's identities, never leaving the user locked out.

    Args:
        database: The library's transactions.
        users: The application's loader (to see whether the user has a password).
        events: The hook dispatcher.
        has_other_sign_in: Whether a user keeps another way to sign in (passkeys).
    """

    def __init__(
        self,
        *,
        database: Database,
        users: IdentityUserLoader[UserT],
        events: HookDispatcher,
        has_other_sign_in: OtherSignIn | None = None,
    ) -> None:
        self._db = database
        self._users = users
        self._events = events
        self._has_other = has_other_sign_in
        self._store = IdentityStore()

    async def list_identities(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[IdentityInfo]:
        """Return the identities linked to *user_id*, oldest first.

        Raises:
            TokenStoreUnavailableError: the database failed.
        """
        async with self._db.reading(session) as db:
            return [link.info for link in await self._store.of_user(db, user_id)]

    async def unlink_identity(
        self,
        user_id: str,
        identity_id: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> bool:
        """Remove the link *identity_id* of *user_id*; False when the user has no such link.

        Refused when it is the user's last way to sign in: no password hash, no other
        identity, and no other sign-in (`has_other_sign_in`). The user's links are
        locked meanwhile, so two concurrent unlinks cannot both take the last but one.

        Raises:
            AuthError: `LAST_SIGN_IN_METHOD` (409).
            TokenStoreUnavailableError: the database failed.
        """
        async with self._db.transaction(session) as db:
            links = await self._store.of_user(db, user_id, lock=True)
            target = next((link for link in links if link.info.id == identity_id), None)
            if target is None:
                return False
            if len(links) == 1 and not await self._can_sign_in_without(db, user_id):
                raise AuthError(
                    "This identity is the account's last way to sign in; set a password or "
                    "link another identity first.",
                    reason=Reason.LAST_SIGN_IN_METHOD,
                )
            await self._store.remove(db, identity_id)
        client = client or ClientInfo()
        self._events.emit(
            EventName.IDENTITY_UNLINKED,
            user_id=user_id,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            extra={"provider": target.info.provider, "identity_id": identity_id},
        )
        return True

    async def _can_sign_in_without(self, db: AsyncSession, user_id: str) -> bool:
        user = await self._users.get_user(db, user_id)
        if user is None:
            return True  # a deleted account is locked out already; let the link go
        if getattr(user, "hashed_password", None):
            return True
        return self._has_other is not None and await self._has_other(user_id)
