"""API keys on HTTP: the `X-API-Key` scheme, and which credential of a request is a key.

A key travels in `X-API-Key` or as `Authorization: Bearer <key>`; a Bearer value is a
key when it has the key format's prefix (`am_...`), which a JWT (`eyJ...`) never has.
A request with both headers is refused: two credentials are ambiguous (RFC 6750 §2
allows one method per request).
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, SecurityScopes

from authmanager._core.tokens import TokenPayload
from authmanager._web.http import as_http, to_http
from authmanager._web.transport import BearerScheme, OnReject, Transport
from authmanager.apikeys import ApiKeyPrincipal, ApiKeyVerifier, Principal
from authmanager.exceptions import AuthError, InvalidTokenError, Reason

__all__ = [
    "KEY_HEADER",
    "ApiKeyScheme",
    "KeyAuth",
    "build_api_key_user",
    "build_current_principal",
    "build_principal",
    "require_held",
]

#: The token path of `Dependencies`: verify the request's access token once per request.
Resolve = Callable[..., Awaitable[tuple[TokenPayload, Any]]]
#: The dependency that gives the request's bearer token (it declares the OAuth2 scheme).
TokenDependency = Callable[..., Awaitable[str | None]]

KEY_HEADER = "X-API-Key"


class ApiKeyScheme(APIKeyHeader):
    """FastAPI's `APIKeyHeader` (the `X-API-Key` scheme in OpenAPI), with a strict reader.

    Returns the header's value or None; refuses two such headers or an empty one.
    """

    def __init__(self, *, on_reject: OnReject | None = None) -> None:
        super().__init__(
            name=KEY_HEADER,
            scheme_name="APIKeyHeader",
            description="An API key (`POST /api-keys`); `Authorization: Bearer <key>` works too.",
            auto_error=False,
        )
        self.on_reject = on_reject

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        """Return the `X-API-Key` value of *request*, or None; refusals become HTTP 401."""
        values = request.headers.getlist(KEY_HEADER)
        if not values:
            return None
        if len(values) > 1:
            raise self._refused(
                request,
                InvalidTokenError(
                    "Two X-API-Key headers were sent.", reason=Reason.DUPLICATE_CREDENTIALS
                ),
            )
        value = values[0].strip()
        if not value:  # anything else is the key format's to judge (by length first)
            raise self._refused(
                request,
                InvalidTokenError("The X-API-Key header is malformed.", reason=Reason.MALFORMED),
            )
        return value

    def _refused(self, request: Request, exc: AuthError) -> Exception:
        if self.on_reject is not None:
            self.on_reject(request, exc)
        return to_http(exc)


class KeyAuth:
    """Pick the API key of a request and verify it once per request.

    Args:
        verifier: The API key verifier (one indexed query; two with the user).
        bearer: The manager's bearer scheme (the `Authorization` header reader).
        transport: The client's address and agent, for events.
        on_reject: Reports refusals that happen before verification.
    """

    def __init__(
        self,
        *,
        verifier: ApiKeyVerifier,
        bearer: BearerScheme,
        transport: Transport,
        on_reject: OnReject,
    ) -> None:
        self._verifier = verifier
        self._bearer = bearer
        self._transport = transport
        self._on_reject = on_reject
        self.scheme = ApiKeyScheme(on_reject=on_reject)
        self._state_key = f"authmanager_key_{id(self)}"

    def looks_like_key(self, value: str) -> bool:
        """Return whether a credential claims to be an API key (its prefix; no I/O)."""
        return self._verifier.looks_like_key(value)

    def pick(self, request: Request, token: str | None, key: str | None) -> str | None:
        """Return the request's API key, or None when its credential is a token (or absent).

        Raises:
            AuthHTTPException: both headers were sent, or a key under `DPoP`.
        """
        with as_http():
            if key is not None and token is not None:
                raise self._refused(
                    request,
                    InvalidTokenError(
                        "Send either an access token or an API key, not both.",
                        reason=Reason.DUPLICATE_CREDENTIALS,
                    ),
                )
            if key is not None:
                return key
            if token is None or not self.looks_like_key(token):
                return None
            if _scheme(request) != "bearer":  # a key is never DPoP-bound
                raise self._refused(
                    request,
                    InvalidTokenError(
                        "Send an API key as 'Bearer <key>' or in X-API-Key.",
                        reason=Reason.MALFORMED,
                    ),
                )
            return token

    def only(self, request: Request, key: str | None) -> str:
        """Return the request's API key; refuse an access token or no credential.

        Raises:
            AuthHTTPException: no key, an access token, or two credentials.
        """
        with as_http():
            token = self._bearer.read(request)
        found = self.pick(request, token, key)
        if found is not None:
            return found
        with as_http():
            if token is None:
                raise InvalidTokenError("An API key is required.", reason=Reason.MISSING)
            raise self._refused(
                request,
                InvalidTokenError(
                    "This route takes an API key, not an access token.",
                    reason=Reason.WRONG_CREDENTIAL,
                ),
            )

    def refuse_key(self, request: Request, token: str) -> None:
        """Refuse an API key where only an access token is accepted.

        Raises:
            InvalidTokenError: *token* is an API key (reason `wrong_credential`).
        """
        if self.looks_like_key(token):
            raise self._refused(
                request,
                InvalidTokenError(
                    "This route takes an access token, not an API key.",
                    reason=Reason.WRONG_CREDENTIAL,
                ),
            )

    async def resolve(
        self, request: Request, key: str, *, with_user: bool
    ) -> tuple[ApiKeyPrincipal, Any]:
        """Verify *key* once per request (and load its user once, when asked)."""
        cached = getattr(request.state, self._state_key, None)
        if cached is not None and (cached[1] is not None or not with_user):
            found: tuple[ApiKeyPrincipal, Any] = cached
            return found
        client = self._transport.client(request)
        with as_http():
            if with_user:
                principal, user = await self._verifier.verify_for_user(key, client=client)
            else:
                principal, user = await self._verifier.verify(key, client=client), None
        setattr(request.state, self._state_key, (principal, user))
        return principal, user

    def _refused(self, request: Request, exc: AuthError) -> AuthError:
        self._on_reject(request, exc)
        return exc


def _scheme(request: Request) -> str:
    """The lower-cased scheme of the (single, already checked) Authorization header."""
    return request.headers.get("authorization", "").strip().partition(" ")[0].lower()


def require_held(principal: Principal, security_scopes: SecurityScopes) -> None:
    """403 `insufficient_scope` unless *principal* holds every scope of *security_scopes*."""
    if security_scopes.scopes and not set(security_scopes.scopes).issubset(principal.scopes):
        what = "API key" if principal.type == "api_key" else "token"
        raise to_http(
            AuthError(f"The {what} lacks a required scope.", reason=Reason.INSUFFICIENT_SCOPE)
        )


def build_principal(
    keys: KeyAuth, resolve: Resolve, token_dep: TokenDependency
) -> Callable[..., Awaitable[Principal]]:
    """The dependency of an access token's payload or an API key's principal (one query)."""

    async def principal(
        request: Request,
        security_scopes: SecurityScopes,
        token: str | None = Depends(token_dep),
        key: str | None = Depends(keys.scheme),
    ) -> Principal:
        """An access token's payload, or an API key's principal (one query; else 401).

        Used as `Security(principal, scopes=[...])` (what `require_scopes` is), it also
        answers 403 unless the token or key holds every scope.
        """
        value = keys.pick(request, token, key)
        if value is None:
            found: Principal = (await resolve(request, token, with_user=False))[0]
        else:
            found = (await keys.resolve(request, value, with_user=False))[0]
        require_held(found, security_scopes)
        return found

    return principal


def build_api_key_user(keys: KeyAuth) -> Callable[..., Awaitable[Any]]:
    """`api_key_user`: the user of the request's API key; an access token is refused."""

    async def api_key_user(
        request: Request, security_scopes: SecurityScopes, key: str | None = Depends(keys.scheme)
    ) -> Any:
        """The user of the request's API key (`X-API-Key` or Bearer); never a token.

        Used as `Security(api_key_user, scopes=[...])`, it also answers 403 unless the
        key holds every scope.
        """
        found, user = await keys.resolve(request, keys.only(request, key), with_user=True)
        require_held(found, security_scopes)
        return user

    return api_key_user


def build_current_principal(
    keys: KeyAuth, resolve: Resolve, token_dep: TokenDependency
) -> Callable[..., Awaitable[Any]]:
    """`current_principal`: the user of the request's access token or API key."""

    async def current_principal(
        request: Request,
        security_scopes: SecurityScopes,
        token: str | None = Depends(token_dep),
        key: str | None = Depends(keys.scheme),
    ) -> Any:
        """The user of the request's access token or API key (else 401).

        Used as `Security(current_principal, scopes=[...])`, it also answers 403 unless
        the token or key holds every scope.
        """
        value = keys.pick(request, token, key)
        found: Principal
        if value is None:
            found, user = await resolve(request, token, with_user=True)
        else:
            found, user = await keys.resolve(request, value, with_user=True)
        require_held(found, security_scopes)
        return user

    return current_principal
