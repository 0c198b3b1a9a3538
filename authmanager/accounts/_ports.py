"""The seams of the account flows: what they need from sessions and from the user loader."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo

__all__ = [
    "OPTIONAL_METHODS",
    "AccountUserLoader",
    "SessionRevoker",
    "SessionStarter",
    "loader_method",
]

UserT = TypeVar("UserT")
UserT_co = TypeVar("UserT_co", covariant=True)

#: The loader's optional methods the flows call, each when present (see the contract).
OPTIONAL_METHODS = ("create_user", "set_login", "set_verified", "set_password_hash")


class SessionStarter(Protocol):
    """Starts a login session for a user who signed in without a password."""

    async def start(
        self,
        user: Any,
        *,
        client: ClientInfo,
        amr: Sequence[str],
        fresh: bool = True,
        session: AsyncSession | None = None,
    ) -> TokenPair:  # pragma: no cover - protocol
        """Return the new session's tokens; each carries *amr* as its RFC 8176 `amr` claim."""
        ...


class SessionRevoker(Protocol):
    """Ends every session of a user."""

    async def revoke_user(
        self, user_id: str, *, reason: str, session: AsyncSession | None = None
    ) -> int:  # pragma: no cover - protocol
        """End every session of *user_id*; return the count of tokens revoked."""
        ...


class AccountUserLoader(Protocol[UserT_co]):
    """The application's users, as the account flows reach them.

    Besides these two look-ups, the flows call the optional methods of the contract
    when the loader has them: `create_user(session, login, password_hash, fields)`,
    `set_login(session, user, new_login)`, `set_verified(session, user)`,
    `set_password_hash(session, user, new_hash)`; `check_fields(fields)` (plain or
    async; raises `ValueError` to refuse registration fields, before the login is
    looked up); and `login_of(user) -> str`, the address of a user (without it, the
    user's `email` or `login` attribute is read).
    """

    async def get_user(
        self, session: AsyncSession, user_id: str
    ) -> UserT_co | None:  # pragma: no cover - protocol
        """Return the user whose id, as a string, is *user_id*."""
        ...

    async def get_user_by_login(
        self, session: AsyncSession, login: str
    ) -> UserT_co | None:  # pragma: no cover - protocol
        """Return the user who logs in as *login*."""
        ...


def loader_method(loader: object, name: str) -> Callable[..., Awaitable[Any]] | None:
    """Return the loader's coroutine method *name*, or None when it has none.

    Raises:
        TypeError: the loader has *name* but not as an `async def`.
    """
    method = getattr(loader, name, None)
    if method is None:
        return None
    if not inspect.iscoroutinefunction(method):
        raise TypeError(f"user_loader.{name} must be 'async def'.")
    result: Callable[..., Awaitable[Any]] = method
    return result
