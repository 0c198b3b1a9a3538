"""`AuthManager` methods for administrators: deactivating users, lifting login lockouts."""

from __future__ import annotations

from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._services.logins import LoginService
from authmanager._services.revocation import RevocationService

__all__ = ["AdminMethods"]

UserT = TypeVar("UserT")


class AdminMethods(Generic[UserT]):
    """Session controls for administrators."""

    _logins: LoginService[UserT]
    _revocations: RevocationService

    async def deactivate_user(self, user_id: str, *, session: AsyncSession | None = None) -> int:
        """Refuse every session and token of a user you deactivated or deleted, at once.

        Call it when the user stops being allowed in: after marking them inactive (or
        deleting them) in your own table, or with `session=` in the same transaction,
        so that no login can slip in between. From the next request on, every path
        refuses the user's tokens: `current_user` and `token_data`, `require_scopes`
        and `token_validator`, the session routes, refresh, and open WebSockets at their
        next check; the per-request check reads the mark it leaves without a query
        more. A user the loader reports inactive or missing is refused wherever the
        user is loaded, with or without this call. Reports `user.deactivated`.

        Returns:
            The count of tokens revoked.

        Raises:
            TokenStoreUnavailableError: nothing was changed.

        Example:
            ```python
            async with session.begin():
                user.is_active = False
                await auth.deactivate_user(str(user.id), session=session)
            ```
        """
        return await self._revocations.deactivate_user(str(user_id), session=session)

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
