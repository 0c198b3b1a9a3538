"""`AuthManager` methods for administrators: deactivating users, impersonation."""

from __future__ import annotations

from datetime import timedelta
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.types import ClientInfo
from authmanager._services.impersonation import ImpersonationService
from authmanager._services.revocation import RevocationService

__all__ = ["AdminMethods"]

UserT = TypeVar("UserT")


class AdminMethods(Generic[UserT]):
    """Session controls for administrators."""

    _revocations: RevocationService
    _impersonation: ImpersonationService[UserT]

    async def deactivate_user(self, user_id: str, *, session: AsyncSession | None = None) -> int:
        """Refuse every session, token and API key of a user you deactivated or deleted.

        Call it when the user stops being allowed in, after marking them inactive (or
        deleting them) in your own table, or with `session=` in that same transaction.
        Sessions and tokens end through the user's revoke-all mark, which the one
        per-request query already reads, and the user's API keys are revoked, in one
        transaction. Reports `user.deactivated` (and `api_key.revoked` per key).

        Returns:
            The count of tokens revoked.

        Raises:
            TokenStoreUnavailableError: nothing was changed.

        Example:
            ```python
            async with sessions.begin() as db:
                user.is_active = False
                await auth.deactivate_user(str(user.id), session=db)
            ```
        """
        return await self._revocations.deactivate_user(str(user_id), session=session)

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
        """Return one access token that lets *actor_id* act as *target_id*, openly.

        The token carries RFC 8693's `act` claim (`{"sub": actor_id}`), lives at most
        15 minutes (by default the shorter of that and `access_token_expire_minutes`),
        comes without a refresh token and is never fresh, so `fresh_user` refuses it
        (no password change, no new factor, no API key). Its session is listed in the
        target's sessions with `impersonated_by` set, and ends with the target's
        logout-all. Reports `impersonation.started` (the actor and *reason* in `extra`).
        Deciding who may impersonate is the application's job.

        Raises:
            ValueError: *expires_in* is over 15 minutes or not positive, the reason is
                empty, the actor is the target, or the target is missing or inactive.
            TokenStoreUnavailableError: nothing was issued.

        Example:
            ```python
            token = await auth.impersonate(str(admin.id), str(user.id), reason="ticket 4711")
            ```
        """
        return await self._impersonation.impersonate(
            str(actor_id),
            str(target_id),
            reason=reason,
            expires_in=expires_in,
            client=client,
            session=session,
        )
