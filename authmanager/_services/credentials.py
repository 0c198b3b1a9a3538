"""The seam to credentials that outlive sessions (API keys): what ends them with the user's."""

from __future__ import annotations

from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["CAUSES", "Cause", "UserCredentials"]

#: The account events whose effect on a user's other credentials is a setting.
Cause = Literal["logout_all", "password_change", "password_reset"]
CAUSES: frozenset[str] = frozenset({"logout_all", "password_change", "password_reset"})


class UserCredentials(Protocol):
    """A user's long-lived credentials (`ApiKeyService` is one), revoked in our transactions."""

    async def revoke_user_keys(
        self, user_id: str, *, reason: str = "revoked", session: AsyncSession | None = None
    ) -> int:  # pragma: no cover - protocol
        """Revoke every credential of *user_id* (in *session*'s transaction); return the count."""
        ...

    async def revoke_user_keys_for(
        self, cause: Cause, user_id: str, *, session: AsyncSession | None = None
    ) -> int:  # pragma: no cover - protocol
        """Apply the configured policy of *cause* to the user's credentials; return the count."""
        ...
