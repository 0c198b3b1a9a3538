"""A resource service that verifies authmanager's access tokens with the published JWKS.

It holds no secret and no database: it trusts the signature and the short expiry, and
so does not see a revocation before the token expires (see the guide).
"""

from typing import Any

import httpx
import jwt


class JWKSVerifier:
    """Verify access tokens against the keys at `jwks_url`, fetching them when a kid is new."""

    def __init__(
        self, jwks_url: str, *, audience: str, issuer: str, http: httpx.AsyncClient
    ) -> None:
        self.jwks_url = jwks_url
        self.audience = audience
        self.issuer = issuer
        self._http = http
        self._keys: dict[str, jwt.PyJWK] = {}

    async def refresh_keys(self) -> None:
        response = await self._http.get(self.jwks_url)
        response.raise_for_status()
        jwk_set = jwt.PyJWKSet.from_dict(response.json())
        self._keys = {key.key_id: key for key in jwk_set.keys if key.key_id}

    async def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a valid access token; raise `jwt.InvalidTokenError` otherwise."""
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "at+jwt":  # refuse refresh tokens (RFC 9068 §2.1)
            raise jwt.InvalidTokenError("not an access token")
        kid = header.get("kid")
        if kid not in self._keys:
            await self.refresh_keys()  # a rotation happened; fetch the new key set
        key = self._keys.get(kid)
        if key is None:
            raise jwt.InvalidTokenError("unknown key id")
        return jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],  # pinned by the key, never by the token
            audience=self.audience,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub", "jti", "aud", "iss"]},
        )
