"""`AuthManager` methods: the user's linked identities and the native ID-token exchange."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, Reason
from authmanager.identities import IdentityInfo, IdentityLinks
from authmanager.identities.flows import FlowStore

if TYPE_CHECKING:  # needs the oidc extra; built only when providers are configured
    from authmanager.identities.service import IdentityService

__all__ = ["IdentityMethods"]

UserT = TypeVar("UserT")
_NO_CLIENT = ClientInfo()


class IdentityMethods(Generic[UserT]):
    """Sign-in with external providers: identity links and the native exchange."""

    _identities: IdentityService[Any] | None
    _identity_links: IdentityLinks[Any]
    _identity_flows: FlowStore

    async def list_identities(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[IdentityInfo]:
        """Return the provider identities linked to *user_id*, oldest first.

        Raises:
            TokenStoreUnavailableError: the store could not be read.
        """
        return await self._identity_links.list_identities(str(user_id), session=session)

    async def unlink_identity(
        self, user_id: str, identity_id: str, *, session: AsyncSession | None = None
    ) -> bool:
        """Remove the link *identity_id* of *user_id*; False when the user has no such link.

        Refused when it is the user's last way to sign in (no password, no other
        identity, no passkey).

        Raises:
            AuthError: reason `last_sign_in_method` (409 over HTTP).
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._identity_links.unlink_identity(
            str(user_id), identity_id, session=session
        )

    async def exchange_id_token(
        self,
        provider: str,
        id_token: str,
        *,
        nonce: str,
        client: ClientInfo | None = None,
    ) -> TokenPair:
        """Sign in with an ID token a native app got from a platform sign-in SDK.

        The token is validated as in the browser flow (signature, `iss`, `aud` among
        the provider's `client_id` and `native_client_ids`, `azp`, `exp`, `iat`), its
        `nonce` must equal *nonce*, and each nonce is exchanged once.

        Raises:
            InvalidTokenError: the ID token or the nonce is refused (its `reason` says
                which); `ExpiredTokenError` for an expired ID token.
            InvalidCredentialsError: the loader refused the identity, or its account is
                disabled or gone.
            AuthError: `unknown_provider` (also when no provider is configured),
                `provider_unavailable`, `provider_error`, `identity_in_use`.
            RateLimitExceededError: too many exchanges from this address.
            TokenStoreUnavailableError: nothing was issued.
        """
        if self._identities is None:
            raise AuthError("No such identity provider.", reason=Reason.UNKNOWN_PROVIDER)
        return await self._identities.exchange_id_token(
            provider, id_token, nonce=nonce, client=client or _NO_CLIENT
        )
