"""ProviderHttp: every call to a provider, through Authlib's OAuth 2.0 client on httpx2.

This is the one module that talks to providers, so it is the one place where their
failures are translated: unreachable, slow or failing (5xx) → `PROVIDER_UNAVAILABLE`
(the HTTP layer answers 503); garbage or a refusal of our client → `PROVIDER_ERROR`
(502); a code the provider refuses (used, expired, another verifier) →
`InvalidTokenError(INVALID_CODE)` (400). Nothing is stored by a failed call, and no
code, token or secret reaches a log or a message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

try:
    import httpx2
    from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
    from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
    from authlib.oauth2.client import OAuth2Client  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        'Sign-in with external providers needs the oidc extra: pip install "authmanager[oidc]".'
    ) from exc

from authmanager._core.config.identities import ProviderConfig
from authmanager.exceptions import AuthError, InvalidTokenError, Reason

__all__ = ["ProviderHttp", "provider_error", "provider_unavailable"]

logger = logging.getLogger("authmanager.identities")

#: Answers larger than this are garbage for a discovery document, a key set or userinfo.
MAX_ANSWER_BYTES = 512 * 1024


def provider_unavailable(name: str, what: str, cause: str) -> AuthError:
    """Log why *name* could not answer (never a secret) and return the error to raise."""
    logger.warning("provider %s unavailable during %s: %s", name, what, cause)
    return AuthError(
        "The identity provider is unavailable; try again later.",
        reason=Reason.PROVIDER_UNAVAILABLE,
    )


def provider_error(name: str, what: str, cause: str) -> AuthError:
    """Log what *name* answered wrongly (never a secret) and return the error to raise."""
    logger.warning("provider %s answered badly during %s: %s", name, what, cause)
    return AuthError("The identity provider gave an invalid answer.", reason=Reason.PROVIDER_ERROR)


def _json_object(response: httpx2.Response, name: str, what: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise provider_unavailable(name, what, f"HTTP {response.status_code}")
    if response.status_code != 200:
        raise provider_error(name, what, f"HTTP {response.status_code}")
    if len(response.content) > MAX_ANSWER_BYTES:
        raise provider_error(name, what, "answer too large")
    try:
        data = response.json()
    except ValueError:
        raise provider_error(name, what, "not JSON") from None
    if not isinstance(data, dict):
        raise provider_error(name, what, "not a JSON object")
    return data


class ProviderHttp:
    """Calls to providers: discovery and keys, the authorization URL, code redemption.

    Every call has the timeout given here. A new client is made per call, because an
    Authlib client keeps the token it fetched: shared between two sign-ins at once, one
    could read the other's userinfo. They share one TLS context, built here once
    (loading the trust store blocks). Redirects are never followed.

    Args:
        timeout: Seconds allowed to each provider call (connect, read, write, pool).
    """

    def __init__(self, *, timeout: float) -> None:
        self._timeout = httpx2.Timeout(timeout)
        self._tls = httpx2.create_ssl_context()

    def _client(self, config: ProviderConfig | None = None, **kwargs: Any) -> Any:
        if config is None:
            return httpx2.AsyncClient(timeout=self._timeout, verify=self._tls)
        secret = config.client_secret.get_secret_value() if config.client_secret else None
        return AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=secret,
            token_endpoint_auth_method=config.auth_method,
            scope=" ".join(config.scope_list) or None,
            code_challenge_method="S256",
            timeout=self._timeout,
            verify=self._tls,
            **kwargs,
        )

    async def get_json(self, name: str, url: str, *, what: str) -> dict[str, Any]:
        """GET a JSON object (a discovery document, a key set).

        Raises:
            AuthError: `PROVIDER_UNAVAILABLE` or `PROVIDER_ERROR`, as above.
        """
        try:
            async with self._client() as client:
                response = await client.get(url, headers={"Accept": "application/json"})
        except httpx2.HTTPError as exc:
            raise provider_unavailable(name, what, type(exc).__name__) from None
        return _json_object(response, name, what)

    def authorization_url(
        self,
        config: ProviderConfig,
        *,
        endpoint: str,
        redirect_uri: str,
        state: str,
        code_verifier: str,
        nonce: str | None,
    ) -> str:
        """Return the provider's authorization URL for one code flow (PKCE S256)."""
        # The protocol-only client: building a URL needs no HTTP connection pool.
        client = OAuth2Client(
            None,
            client_id=config.client_id,
            scope=" ".join(config.scope_list) or None,
            code_challenge_method="S256",
        )
        extra: dict[str, str] = {"nonce": nonce} if nonce is not None else {}
        url, _ = client.create_authorization_url(
            endpoint,
            state=state,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            **extra,
        )
        return str(url)

    async def redeem_code(
        self,
        name: str,
        config: ProviderConfig,
        *,
        token_endpoint: str,
        redirect_uri: str,
        code: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """Exchange *code* (with its PKCE verifier) at the token endpoint.

        Returns the token response, which has an `access_token`.

        Raises:
            InvalidTokenError: `INVALID_CODE`, the provider refused the code.
            AuthError: `PROVIDER_UNAVAILABLE` or `PROVIDER_ERROR`.
        """
        try:
            async with self._client(config, redirect_uri=redirect_uri) as client:
                return await self._fetch_token(
                    client, name, token_endpoint, code=code, code_verifier=code_verifier
                )
        except httpx2.HTTPError as exc:
            raise provider_unavailable(name, "code redemption", type(exc).__name__) from None

    async def userinfo(self, name: str, url: str, access_token: str) -> dict[str, Any]:
        """GET the userinfo endpoint with the access token of one sign-in.

        Raises:
            AuthError: `PROVIDER_UNAVAILABLE` or `PROVIDER_ERROR`.
        """
        headers = {"Accept": "application/json", "Authorization": f"Bearer {access_token}"}
        try:
            async with self._client() as client:
                response = await client.get(url, headers=headers)
        except httpx2.HTTPError as exc:
            raise provider_unavailable(name, "userinfo", type(exc).__name__) from None
        return _json_object(response, name, "userinfo")

    @staticmethod
    async def _fetch_token(
        client: Any, name: str, url: str, *, code: str, code_verifier: str
    ) -> dict[str, Any]:
        try:
            token = await client.fetch_token(
                url, grant_type="authorization_code", code=code, code_verifier=code_verifier
            )
        except OAuthError as exc:
            error = str(getattr(exc, "error", "") or "")
            if error == "invalid_grant":
                raise InvalidTokenError(
                    "The provider refused the authorization code.", reason=Reason.INVALID_CODE
                ) from None
            raise provider_error(name, "code redemption", f"error {error[:40]!r}") from None
        except httpx2.HTTPStatusError as exc:
            status = exc.response.status_code
            if status >= 500:
                raise provider_unavailable(name, "code redemption", f"HTTP {status}") from None
            raise provider_error(name, "code redemption", f"HTTP {status}") from None
        except ValueError:
            raise provider_error(name, "code redemption", "not a JSON object") from None
        access_token = token.get("access_token") if isinstance(token, Mapping) else None
        if not isinstance(access_token, str) or not access_token:
            raise provider_error(name, "code redemption", "no access_token")
        return dict(token)
