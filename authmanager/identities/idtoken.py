"""IdTokenVerifier: an OpenID Connect ID token, validated in full (OIDC Core §3.1.3.7).

The signature by the provider's published key (an asymmetric algorithm the provider
announces, never `none` or HS*), `iss` exactly the discovered issuer, `aud` holding our
client id and no audience we do not trust, `azp` when there are several audiences, `exp`,
`iat` (not in the future), and `nonce` equal, in constant time, to the one the flow (or
the native app) chose. PyJWT does the JOSE work; its errors are translated here, once.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Collection
from typing import Any

import jwt

from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason
from authmanager.identities.providers import ProviderRegistry
from authmanager.identities.types import MAX_ID_TOKEN_BYTES

__all__ = ["MAX_ID_TOKEN_BYTES", "IdTokenVerifier"]

#: Header parameters that would let a token choose its own key (RFC 8725 §3.10).
_FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAX_SUBJECT = 255


def _invalid(message: str, reason: Reason) -> InvalidTokenError:
    return InvalidTokenError(message, reason=reason)


def _translate(exc: jwt.PyJWTError) -> InvalidTokenError:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return ExpiredTokenError("The ID token has expired.")
    table: list[tuple[type[jwt.PyJWTError], Reason, str]] = [
        (jwt.InvalidSignatureError, Reason.SIGNATURE, "The ID token's signature is invalid."),
        (jwt.InvalidAudienceError, Reason.WRONG_AUDIENCE, "The ID token is for another client."),
        (jwt.InvalidIssuerError, Reason.WRONG_ISSUER, "The ID token is from another issuer."),
        (jwt.MissingRequiredClaimError, Reason.MISSING_CLAIM, "The ID token lacks a claim."),
        (jwt.InvalidAlgorithmError, Reason.ALGORITHM, "The ID token's algorithm is refused."),
    ]
    if isinstance(exc, jwt.ImmatureSignatureError):
        if "(iat)" in str(exc):
            return _invalid("The ID token was issued in the future.", Reason.ISSUED_IN_FUTURE)
        return _invalid("The ID token is not valid yet.", Reason.NOT_YET_VALID)
    for kind, reason, message in table:
        if isinstance(exc, kind):
            return _invalid(message, reason)
    return _invalid("The ID token is malformed.", Reason.MALFORMED)


class IdTokenVerifier:
    """Validate ID tokens against a provider of the registry.

    Args:
        registry: The providers, with their cached discovery documents and keys.
        leeway: Clock skew tolerated on `exp` and `iat`, in seconds.
    """

    def __init__(self, registry: ProviderRegistry, *, leeway: int) -> None:
        self._registry = registry
        self._leeway = leeway

    async def verify(
        self, provider: str, id_token: str, *, nonce: str, audiences: Collection[str]
    ) -> dict[str, Any]:
        """Return the claims of *id_token* after every check above.

        Args:
            provider: The provider's name.
            id_token: The compact JWS.
            nonce: The nonce the token must carry.
            audiences: The client ids accepted: our `client_id` (and, for the native
                exchange, the configured `native_client_ids`).

        Raises:
            ExpiredTokenError: the token has expired.
            InvalidTokenError: any other failed check, with its `Reason`
                (`INVALID_NONCE` for the nonce).
            AuthError: the provider is unknown, unreachable or answered badly.
        """
        if len(id_token) > MAX_ID_TOKEN_BYTES or not _COMPACT.fullmatch(id_token):
            raise _invalid("The ID token is malformed.", Reason.MALFORMED)
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise _translate(exc) from None
        endpoints = await self._registry.endpoints(provider)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in endpoints.algorithms:
            raise _invalid("The ID token's algorithm is refused.", Reason.ALGORITHM)
        if _FORBIDDEN_HEADERS & header.keys():
            raise _invalid("The ID token's header is refused.", Reason.FORBIDDEN_HEADER)
        kid = header.get("kid")
        key = await self._registry.signing_key(
            provider, kid if isinstance(kid, str) else None, algorithm
        )
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=[algorithm],
                audience=list(audiences),
                issuer=endpoints.issuer,
                leeway=self._leeway,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise _translate(exc) from None
        self._check_parties(claims, audiences)
        self._check_nonce(claims, nonce)
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= _MAX_SUBJECT:
            raise _invalid("The ID token's subject is malformed.", Reason.MALFORMED)
        return claims

    @staticmethod
    def _check_parties(claims: dict[str, Any], audiences: Collection[str]) -> None:
        aud = claims["aud"]
        values = [aud] if isinstance(aud, str) else aud
        # OIDC Core §3.1.3.7 (3): refuse a token that also names audiences we do not
        # trust, and (4, 5) require azp, one of ours, when there are several.
        if not isinstance(values, list) or any(v not in audiences for v in values):
            raise _invalid("The ID token is also for another client.", Reason.WRONG_AUDIENCE)
        azp = claims.get("azp")
        if azp is None and len(values) > 1:
            raise _invalid("The ID token lacks azp.", Reason.MISSING_CLAIM)
        if azp is not None and azp not in audiences:
            raise _invalid("The ID token was issued to another client.", Reason.WRONG_AUDIENCE)

    @staticmethod
    def _check_nonce(claims: dict[str, Any], nonce: str) -> None:
        found = claims.get("nonce")
        if not isinstance(found, str) or not hmac.compare_digest(found.encode(), nonce.encode()):
            raise _invalid("The ID token's nonce does not match.", Reason.INVALID_NONCE)
