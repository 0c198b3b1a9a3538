"""IdentityReader: from a provider's answer (a code, or a native ID token) to an identity."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from authmanager._core.clock import utcnow
from authmanager.identities.idtoken import IdTokenVerifier
from authmanager.identities.mapping import from_claims, from_userinfo, merge_userinfo
from authmanager.identities.oauth import provider_error
from authmanager.identities.providers import Endpoints, ProviderRegistry
from authmanager.identities.types import ExternalIdentity

__all__ = ["IdentityReader"]


class IdentityReader:
    """Redeem a code, or validate an ID token, and say who the provider vouches for.

    Args:
        registry: The providers.
        leeway: Clock skew tolerated on ID tokens, in seconds.
        fresh_for: How recent the provider's `auth_time` must be for a fresh session.
    """

    def __init__(self, registry: ProviderRegistry, *, leeway: int, fresh_for: timedelta) -> None:
        self._registry = registry
        self._verifier = IdTokenVerifier(registry, leeway=leeway)
        self._leeway = timedelta(seconds=leeway)
        self._fresh_for = fresh_for

    async def from_code(
        self,
        provider: str,
        endpoints: Endpoints,
        *,
        code: str,
        code_verifier: str,
        nonce: str,
        redirect_uri: str,
    ) -> tuple[ExternalIdentity, bool]:
        """Redeem *code*; return the identity and whether the sign-in is fresh.

        Raises:
            InvalidTokenError: the code or the ID token is refused (with its reason).
            AuthError: `PROVIDER_UNAVAILABLE` or `PROVIDER_ERROR`.
        """
        config = self._registry.config(provider)
        http = self._registry.http
        token = await http.redeem_code(
            provider,
            config,
            token_endpoint=endpoints.token_endpoint,
            redirect_uri=redirect_uri,
            code=code,
            code_verifier=code_verifier,
        )
        access_token = str(token["access_token"])
        if not config.is_oidc:
            info = await http.userinfo(provider, endpoints.userinfo_endpoint or "", access_token)
            fields = config.userinfo_fields
            return from_userinfo(provider, endpoints.issuer, fields, info), False
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise provider_error(provider, "code redemption", "no id_token")
        claims = await self._verifier.verify(
            provider, id_token, nonce=nonce, audiences=[config.client_id]
        )
        # Providers that conform to OIDC Core §5.4 keep scope claims out of the ID
        # token of a code flow: read them from userinfo, for the same subject only.
        if "email" not in claims and endpoints.userinfo_endpoint and "email" in config.scope_list:
            info = await http.userinfo(provider, endpoints.userinfo_endpoint, access_token)
            claims = merge_userinfo(provider, claims, info)
        return from_claims(provider, endpoints.issuer, claims), self._fresh(claims)

    async def from_id_token(
        self, provider: str, id_token: str, *, nonce: str
    ) -> tuple[ExternalIdentity, bool, datetime]:
        """Validate a native app's ID token; return the identity, freshness and its expiry.

        Its audience may be `client_id` or one of `native_client_ids`.

        Raises:
            InvalidTokenError: the ID token is refused (with its reason).
            AuthError: `PROVIDER_UNAVAILABLE` or `PROVIDER_ERROR`.
        """
        config = self._registry.config(provider)
        audiences = [config.client_id, *config.native_client_ids]
        claims = await self._verifier.verify(provider, id_token, nonce=nonce, audiences=audiences)
        endpoints = await self._registry.endpoints(provider)
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC) + self._leeway
        return from_claims(provider, endpoints.issuer, claims), self._fresh(claims), expires

    def _fresh(self, claims: Mapping[str, Any]) -> bool:
        """Fresh only when the provider says the user authenticated just now (`auth_time`)."""
        auth_time = claims.get("auth_time")
        if not isinstance(auth_time, int | float) or isinstance(auth_time, bool):
            return False
        return utcnow() - datetime.fromtimestamp(auth_time, UTC) <= self._fresh_for
