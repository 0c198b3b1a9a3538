"""IdentityResolver: which user a verified identity signs in as, or is linked to.

The rule against pre-account takeover lives here, in the library, whatever the loader
does: an attacker who registers the victim's email at a provider that does not verify
it (or who created a local account with it first) must not get the account. So when the
loader answers an identity with no link by the existing account whose login is the
identity's email, both the provider and the account must say the email is verified.
"""

from __future__ import annotations

from typing import Generic

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager.exceptions import AuthError, InvalidCredentialsError, Reason
from authmanager.identities.links import IdentityStore, Link
from authmanager.identities.protocols import IdentityUserLoader, UserT
from authmanager.identities.types import ExternalIdentity

__all__ = ["IdentityResolver", "user_is_live"]


def user_is_live(user: object) -> bool:
    """Whether *user* may sign in: live unless `is_active` is explicitly false."""
    return getattr(user, "is_active", True) is not False


def _refused() -> InvalidCredentialsError:
    # One answer for "the loader refused" and "unverified email match": telling them
    # apart would reveal that an account with that email exists.
    return InvalidCredentialsError(
        "This identity cannot sign in to this application.", reason=Reason.IDENTITY_REFUSED
    )


def _in_use() -> AuthError:
    return AuthError(
        "This identity is already linked to another account.", reason=Reason.IDENTITY_IN_USE
    )


class IdentityResolver(Generic[UserT]):
    """Find, create (through the loader) or refuse the user of an identity.

    Args:
        users: The application's loader, with `get_user_for_identity`.
        store: The identity links.
    """

    def __init__(self, *, users: IdentityUserLoader[UserT], store: IdentityStore) -> None:
        self._users = users
        self._store = store

    async def _live_user(self, db: AsyncSession, user_id: str) -> UserT:
        user = await self._users.get_user(db, user_id)
        if user is None:
            raise InvalidCredentialsError(
                "The account of this identity no longer exists.", reason=Reason.USER_NOT_FOUND
            )
        if not user_is_live(user):
            raise InvalidCredentialsError(
                "The account of this identity is disabled.", reason=Reason.USER_INACTIVE
            )
        return user

    async def sign_in(
        self, db: AsyncSession, identity: ExternalIdentity
    ) -> tuple[UserT, Link, bool]:
        """Return the user *identity* signs in as, its link, and whether the link is new.

        Raises:
            InvalidCredentialsError: `IDENTITY_REFUSED` (the loader refused, or an
                unverified email would link an existing account), `USER_NOT_FOUND`,
                `USER_INACTIVE`.
            AuthError: `IDENTITY_IN_USE`, a concurrent sign-in linked it elsewhere.
        """
        link = await self._store.find(db, identity.issuer, identity.subject)
        if link is not None:
            user = await self._live_user(db, link.user_id)
            return user, await self._store.touch(db, link, identity), False
        # Asked before the loader runs, so an account it creates now is not "existing".
        existing = (
            await self._users.get_user_by_login(db, identity.email) if identity.email else None
        )
        found = await self._users.get_user_for_identity(db, identity)
        if found is None:
            raise _refused()
        user = found
        if not user_is_live(user):
            raise InvalidCredentialsError(
                "The account of this identity is disabled.", reason=Reason.USER_INACTIVE
            )
        user_id = str(user.id)
        if existing is not None and str(existing.id) == user_id:
            account_verified = getattr(user, "is_verified", False) is True
            if not (identity.email_verified and account_verified):
                raise _refused()
        link, created = await self._store.add(db, user_id=user_id, identity=identity)
        if link.user_id != user_id:
            raise _in_use()
        return user, link, created

    async def link(
        self, db: AsyncSession, user_id: str, identity: ExternalIdentity
    ) -> tuple[Link, bool]:
        """Link *identity* to the signed-in user *user_id*; return it and whether it is new.

        Linking the identity the user already has is not an error (nothing changes).

        Raises:
            InvalidCredentialsError: `USER_NOT_FOUND` or `USER_INACTIVE`.
            AuthError: `IDENTITY_IN_USE`, the identity belongs to another user.
        """
        await self._live_user(db, user_id)
        link = await self._store.find(db, identity.issuer, identity.subject)
        if link is not None:
            if link.user_id != user_id:
                raise _in_use()
            return link, False
        link, created = await self._store.add(db, user_id=user_id, identity=identity)
        if link.user_id != user_id:
            raise _in_use()
        return link, created
