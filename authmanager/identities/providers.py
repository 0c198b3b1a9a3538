"""ProviderRegistry: the configured providers, their discovery documents and their keys.

Discovery documents and key sets are cached per provider for `oidc_metadata_ttl_seconds`.
An ID token signed with a key id the cached set lacks (the provider rotated its keys)
refetches the set once; a second unknown key id within `JWKS_REFETCH_COOLDOWN` seconds
is refused without a fetch, so forged tokens cannot make us hammer the provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from authmanager._core.config.identities import ProviderConfig, check_provider_url
from authmanager.exceptions import AuthError, InvalidTokenError, Reason
from authmanager.identities.oauth import ProviderHttp, provider_error

__all__ = ["JWKS_REFETCH_COOLDOWN", "SIGNING_ALGORITHMS", "Endpoints", "ProviderRegistry"]

#: ID tokens must be signed with a provider's public key: never `none`, never HS*
#: (a shared-secret MAC would let anyone holding the client secret mint identities).
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
JWKS_REFETCH_COOLDOWN = 10.0


@dataclass(frozen=True, slots=True)
class Endpoints:
    """A provider's endpoints, from its discovery document or its configuration.

    Attributes:
        issuer: The issuer ID tokens must carry (for plain OAuth 2.0, the origin of
            the authorization endpoint: the namespace of its subjects).
        authorization_endpoint: Where the browser is sent.
        token_endpoint: Where codes are redeemed.
        userinfo_endpoint: Where the user is read, when the provider has one.
        jwks_uri: The provider's key set (OpenID Connect only).
        algorithms: The ID token algorithms accepted from it.
        issuer_in_response: Whether the provider adds `iss` to its redirects (RFC 9207).
    """

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None
    jwks_uri: str | None
    algorithms: frozenset[str]
    issuer_in_response: bool = False


@dataclass(slots=True)
class _Cached:
    endpoints: Endpoints | None = None
    endpoints_at: float = 0.0
    keys: list[_Key] | None = None
    keys_at: float = 0.0


def _text(document: Mapping[str, Any], key: str, name: str, *, required: bool) -> str | None:
    value = document.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise provider_error(name, "discovery", f"{key} missing")
    try:
        return check_provider_url(value, key)
    except ValueError:
        raise provider_error(name, "discovery", f"{key} is not an https URL") from None


class ProviderRegistry:
    """The providers of `AUTH_OIDC_PROVIDERS`, with cached discovery and key sets.

    Args:
        providers: Name → configuration (`settings.oidc_providers`).
        http: The provider HTTP client.
        cache_seconds: How long discovery documents and key sets are kept.
    """

    def __init__(
        self,
        providers: Mapping[str, ProviderConfig],
        *,
        http: ProviderHttp,
        cache_seconds: float,
    ) -> None:
        self._providers = dict(providers)
        self._http = http
        self._ttl = cache_seconds
        self._cache = {name: _Cached() for name in self._providers}
        self._locks = {name: asyncio.Lock() for name in self._providers}

    @property
    def http(self) -> ProviderHttp:
        """The HTTP client the registry fetches with."""
        return self._http

    def names(self) -> list[str]:
        """The configured provider names."""
        return list(self._providers)

    def config(self, name: str) -> ProviderConfig:
        """Return the configuration of provider *name*.

        Raises:
            AuthError: `UNKNOWN_PROVIDER`, no provider has that name.
        """
        config = self._providers.get(name)
        if config is None:
            raise AuthError("No such identity provider.", reason=Reason.UNKNOWN_PROVIDER)
        return config

    async def endpoints(self, name: str) -> Endpoints:
        """Return *name*'s endpoints (discovered, and cached, for OpenID providers).

        Raises:
            AuthError: `UNKNOWN_PROVIDER`, `PROVIDER_UNAVAILABLE` or `PROVIDER_ERROR`.
        """
        config = self.config(name)
        if not config.is_oidc:
            return self._explicit(config)
        cached = self._cache[name]
        if cached.endpoints is not None and time.monotonic() - cached.endpoints_at < self._ttl:
            return cached.endpoints
        async with self._locks[name]:
            if cached.endpoints is None or time.monotonic() - cached.endpoints_at >= self._ttl:
                cached.endpoints = await self._discover(name, config)
                cached.endpoints_at = time.monotonic()
            return cached.endpoints

    @staticmethod
    def _explicit(config: ProviderConfig) -> Endpoints:
        authorize = config.authorization_endpoint or ""
        parts = urlsplit(authorize)
        return Endpoints(
            issuer=f"{parts.scheme}://{parts.netloc}",
            authorization_endpoint=authorize,
            token_endpoint=config.token_endpoint or "",
            userinfo_endpoint=config.userinfo_endpoint,
            jwks_uri=None,
            algorithms=frozenset(),
        )

    async def _discover(self, name: str, config: ProviderConfig) -> Endpoints:
        issuer = config.issuer or ""
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._http.get_json(name, url, what="discovery")
        # OpenID Connect Discovery §4.3: the document's issuer is exactly the configured
        # one, or another issuer could pose as this provider (mix-up).
        if document.get("issuer") != issuer:
            raise provider_error(name, "discovery", "issuer differs from the configured one")
        offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        if not isinstance(offered, list):
            raise provider_error(name, "discovery", "bad id_token_signing_alg_values_supported")
        algorithms = frozenset(a for a in offered if a in SIGNING_ALGORITHMS)
        if not algorithms:
            raise provider_error(name, "discovery", "no asymmetric ID token algorithm")
        return Endpoints(
            issuer=issuer,
            authorization_endpoint=_text(document, "authorization_endpoint", name, required=True)
            or "",
            token_endpoint=_text(document, "token_endpoint", name, required=True) or "",
            userinfo_endpoint=_text(document, "userinfo_endpoint", name, required=False),
            jwks_uri=_text(document, "jwks_uri", name, required=True),
            algorithms=algorithms,
            issuer_in_response=document.get("authorization_response_iss_parameter_supported")
            is True,
        )

    async def signing_key(self, name: str, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """Return *name*'s public key *kid* for *algorithm*, refetching the set once if unknown.

        Raises:
            InvalidTokenError: `UNKNOWN_KEY` (no such key, even after a refetch) or
                `ALGORITHM` (the key is of another type than the algorithm).
            AuthError: `PROVIDER_UNAVAILABLE` or `PROVIDER_ERROR`.
        """
        endpoints = await self.endpoints(name)
        cached = self._cache[name]
        keys = await self._key_set(name, endpoints, refetch=False)
        key = _pick(keys, kid, algorithm)
        if key is None and time.monotonic() - cached.keys_at >= JWKS_REFETCH_COOLDOWN:
            keys = await self._key_set(name, endpoints, refetch=True)
            key = _pick(keys, kid, algorithm)
        if key is None:
            raise InvalidTokenError(
                "The ID token is signed with an unknown key.", reason=Reason.UNKNOWN_KEY
            )
        return key

    async def _key_set(self, name: str, endpoints: Endpoints, *, refetch: bool) -> list[_Key]:
        cached = self._cache[name]
        fresh = cached.keys is not None and time.monotonic() - cached.keys_at < self._ttl
        if fresh and not refetch and cached.keys is not None:
            return cached.keys
        async with self._locks[name]:
            # Another task may have refetched while this one waited for the lock.
            if cached.keys is not None and time.monotonic() - cached.keys_at < (
                JWKS_REFETCH_COOLDOWN if refetch else self._ttl
            ):
                return cached.keys
            document = await self._http.get_json(name, endpoints.jwks_uri or "", what="jwks")
            cached.keys = _parse_key_set(name, document)
            cached.keys_at = time.monotonic()
            return cached.keys


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str | None
    key_type: str
    declared_alg: str | None
    jwk: jwt.PyJWK


def _parse_key_set(name: str, document: Mapping[str, Any]) -> list[_Key]:
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise provider_error(name, "jwks", "no keys list")
    keys: list[_Key] = []
    for entry in entries:
        # Only signature keys: an encryption key of the same set must never verify.
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid, alg = entry.get("kid"), entry.get("alg")
        try:
            jwk = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue  # a key type or curve we cannot use; the others still can be
        keys.append(
            _Key(
                kid=kid if isinstance(kid, str) else None,
                key_type=str(entry.get("kty")),
                declared_alg=alg if isinstance(alg, str) else None,
                jwk=jwk,
            )
        )
    if not keys:
        raise provider_error(name, "jwks", "no usable signing key")
    return keys


def _pick(keys: list[_Key], kid: str | None, algorithm: str) -> jwt.PyJWK | None:
    key_type = _KEY_TYPES.get(algorithm[:2])
    candidates = [k for k in keys if k.key_type == key_type and k.declared_alg in (None, algorithm)]
    if kid is not None:
        candidates = [k for k in candidates if k.kid == kid]
    elif len(candidates) != 1:
        return None  # without a kid, only a set with a single candidate is unambiguous
    return candidates[0].jwk if candidates else None
