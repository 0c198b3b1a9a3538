"""The seams the manager fills: starting a session, the application's users, other sign-ins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.identities.types import ExternalIdentity
from authmanager.loaders import User

__all__ = ["IdentityUserLoader", "OtherSignIn", "SessionStarter", "UserT"]

UserT = TypeVar("UserT", bound=User)
UserT_co = TypeVar("UserT_co", bound=User, covariant=True)
UserT_contra = TypeVar("UserT_contra", bound=User, contravariant=True)

#: `has_other_sign_in(user_id)`: whether the user can still sign in without any linked
#: identity and without a password (a passkey, for example). May not raise.
OtherSignIn = Callable[[str], Awaitable[bool]]


class SessionStarter(Protocol[UserT_contra]):
    """Start a login session for a user who signed in without a password."""

    async def start(
        self,
        user: UserT_contra,
        *,
        client: ClientInfo,
        amr: Sequence[str],
        fresh: bool = True,
        session: AsyncSession | None = None,
    ) -> TokenPair:  # pragma: no cover - protocol
        """Create the session (its tokens carry `amr`) in *session*'s transaction."""
        ...


class IdentityUserLoader(Protocol[UserT_co]):
    """The loader methods sign-in with providers uses (see `UserLoader`).

    Each receives the `AsyncSession` of the library's transaction and must not commit it.
    """

    async def get_user(
        self, session: AsyncSession, user_id: str
    ) -> UserT_co | None:  # pragma: no cover - protocol
        """Return the user whose id, as a string, is *user_id*."""
        ...

    async def get_user_by_login(
        self, session: AsyncSession, login: str
    ) -> UserT_co | None:  # pragma: no cover - protocol
        """Return the user who logs in as *login* (an email here)."""
        ...

    async def get_user_for_identity(
        self, session: AsyncSession, identity: ExternalIdentity
    ) -> UserT_co | None:  # pragma: no cover - protocol
        """Return the user for an identity that has no link yet (found or created), or None.

        None refuses the sign-in. The library then links the identity to the user, and
        refuses anyway an existing account whose login is the identity's email unless
        both the provider and the account say that email is verified.
        """
        ...
