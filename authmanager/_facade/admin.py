"""`AuthManager` methods for administrators: deactivation, impersonation, login lockouts."""

from __future__ import annotations

from datetime import timedelta
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.types import ClientInfo
from authmanager._services.impersonation import ImpersonationService
from authmanager._services.logins import LoginService
from authmanager._services.revocation import RevocationService

__all__ = ["AdminMethods"]

UserT = TypeVar("UserT")


class AdminMethods(Generic[UserT]):
    """Session controls for administrators."""

    _logins: LoginService[UserT]
    _revocations: RevocationService
    _impersonation: ImpersonationService[UserT]

    async def deactivate_user(self, user_id: str, *, session: AsyncSession | None = None) -> int:
        """Refuse every session, token and API key of a user you deactivated or deleted.

        Call it when the user stops being allowed in: after marking them inactive (or
        deleting them) in your own table, or with `session=` in the same transaction,
        so that no login can slip in between. From the next request on, every path
        refuses the user's tokens and keys: `current_user` and `token_data`,
        `require_scopes` and `token_validator`, `api_key_user` and `current_principal`,
        the session routes, refresh, and open WebSockets at their next check; the
        per-request check reads the mark it leaves without a query more. The user's
        API keys are revoked in the same transaction, whatever the `api_keys_on_*`
        settings say. A user the loader reports inactive or missing is refused wherever
        the user is loaded, with or without this call. Reports `user.deactivated` (and
        `api_key.revoked` per key).

        Returns:
            The count of tokens and API keys revoked.

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

    async def unlock_login(self, login: str | None = None, *, ip: str | None = None) -> None:
        """Lift the failed-login limits of a login name, of a client address, or both.

        With *login*, its limits from every address (`login_rate_limit` per address
        and `login_account_rate_limit`) start again from zero; with *ip*, the limit of
        that address over every name (`login_ip_rate_limit`). Reports `login.unlocked`
        (with the user's id when the login name is one of the loader's users).

        Raises:
            ValueError: neither a login name nor an address was given.
            TokenStoreUnavailableError: the rate-limit storage or the database failed.
        """
        await self._logins.unlock(login, ip)
