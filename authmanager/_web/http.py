"""The one table from authmanager's exceptions to HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from authmanager.exceptions import (
    AuthError,
    InvalidCredentialsError,
    InvalidTokenError,
    RateLimitExceededError,
    Reason,
    TokenStoreUnavailableError,
)

__all__ = [
    "AuthHTTPException",
    "as_http",
    "describe",
    "error_response",
    "install_exception_handlers",
    "to_http",
]

logger = logging.getLogger("authmanager.http")


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    error: str


# Reason overrides first (they refine a class), then the class table, most specific first.
_BY_REASON: dict[Reason, _Answer] = {
    Reason.CSRF: _Answer(403, "access_denied"),
    Reason.INSUFFICIENT_SCOPE: _Answer(403, "insufficient_scope"),
    Reason.VALIDATOR: _Answer(403, "access_denied"),
    Reason.DUPLICATE_CREDENTIALS: _Answer(401, "invalid_request"),
    Reason.MISSING: _Answer(401, "invalid_request"),
    # Sign-in with external providers.
    Reason.PROVIDER_UNAVAILABLE: _Answer(503, "temporarily_unavailable"),
    Reason.PROVIDER_ERROR: _Answer(502, "server_error"),
    Reason.UNKNOWN_PROVIDER: _Answer(404, "invalid_request"),
    Reason.UNSAFE_REDIRECT: _Answer(400, "invalid_request"),
    Reason.INVALID_STATE: _Answer(400, "invalid_grant"),
    Reason.INVALID_NONCE: _Answer(400, "invalid_grant"),
    Reason.INVALID_CODE: _Answer(400, "invalid_grant"),
    Reason.IDENTITY_REFUSED: _Answer(403, "access_denied"),
    Reason.IDENTITY_IN_USE: _Answer(409, "identity_in_use"),
    Reason.LAST_SIGN_IN_METHOD: _Answer(409, "last_sign_in_method"),
    Reason.UNSUPPORTED_GRANT_TYPE: _Answer(400, "unsupported_grant_type"),
    Reason.BODY_TOO_LARGE: _Answer(413, "invalid_request"),
}
_BY_CLASS: list[tuple[type[AuthError], _Answer]] = [
    (InvalidCredentialsError, _Answer(401, "invalid_grant")),
    (InvalidTokenError, _Answer(401, "invalid_token")),
    (RateLimitExceededError, _Answer(429, "slow_down")),
    (TokenStoreUnavailableError, _Answer(503, "temporarily_unavailable")),
    (AuthError, _Answer(401, "invalid_request")),
]
# Routes that receive an identity provider's answer (its callback, a native app's ID
# token): a refused token there is the provider's, not a credential of ours, so it is a
# bad request (RFC 6749 §5.2 `invalid_grant`), and a refused account is forbidden.
_FROM_PROVIDER: list[tuple[type[AuthError], _Answer]] = [
    (InvalidCredentialsError, _Answer(403, "access_denied")),
    (InvalidTokenError, _Answer(400, "invalid_grant")),
]


def _answer(exc: AuthError, *, provider: bool = False) -> _Answer:
    if exc.reason in _BY_REASON:
        return _BY_REASON[exc.reason]
    for kind, answer in _FROM_PROVIDER if provider else ():
        if isinstance(exc, kind):
            return answer
    for kind, answer in _BY_CLASS:
        if isinstance(exc, kind):
            return answer
    return _Answer(401, "invalid_request")  # pragma: no cover - AuthError is last


def _headers(exc: AuthError, answer: _Answer) -> dict[str, str]:
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if answer.status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer error="{answer.error}"'
            if answer.error in {"invalid_token", "invalid_request"}
            else "Bearer"
        )
    elif answer.status == 403 and answer.error == "insufficient_scope":
        headers["WWW-Authenticate"] = 'Bearer error="insufficient_scope"'
    if isinstance(exc, RateLimitExceededError):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, TokenStoreUnavailableError):
        headers["Retry-After"] = "5"
    elif exc.reason is Reason.PROVIDER_UNAVAILABLE:
        headers["Retry-After"] = "30"
    return headers


class AuthHTTPException(HTTPException):
    """An `HTTPException` that still knows the OAuth 2.0 `error` code and reason."""

    def __init__(self, exc: AuthError, *, grant: bool = False, provider: bool = False) -> None:
        answer = _answer(exc, provider=provider)
        error = answer.error
        if grant and answer.status == 401:
            # RFC 6749 §5.2: token-endpoint failures are invalid_grant / invalid_request.
            error = "invalid_request" if error == "invalid_request" else "invalid_grant"
        super().__init__(answer.status, exc.message, _headers(exc, answer))
        self.error = error
        self.reason = str(exc.reason)


def to_http(exc: AuthError, *, grant: bool = False, provider: bool = False) -> AuthHTTPException:
    """Return the HTTP exception for *exc* (status, message, headers).

    *grant*: a token endpoint (`invalid_grant`); *provider*: a route that receives an
    identity provider's answer (a refused ID token or code is 400, a refused account 403).
    """
    return AuthHTTPException(exc, grant=grant, provider=provider)


@contextmanager
def as_http(*, grant: bool = False) -> Iterator[None]:
    """Turn an `AuthError` raised in the block into its HTTP exception (dependencies).

    Dependencies run in the application's routes too, where no handler of ours may be
    installed: there an `AuthError` would be a 500, an `HTTPException` is answered.
    """
    try:
        yield
    except AuthError as exc:
        raise to_http(exc, grant=grant) from None


def describe(message: str) -> str:
    """*message* in the character set of RFC 6749 §5.2's `error_description`.

    Printable ASCII without `"` and `\\`: OAuth 2.0 clients (Authlib, oauthlib) show it
    in the error they raise, so a failure is never just `invalid_grant: `.
    """
    text = message.replace('"', "'").replace("\\", "/")
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def error_response(exc: HTTPException) -> JSONResponse:
    """Render an HTTP exception as authmanager's JSON error body.

    The body has `detail` (for people), and for the library's own errors the RFC 6749
    §5.2 / RFC 6750 `error` code, its `error_description`, and the stable `reason`.
    """
    body: dict[str, Any] = {"detail": exc.detail}
    if isinstance(exc, AuthHTTPException):
        body["error"] = exc.error
        body["error_description"] = describe(str(exc.detail))
        body["reason"] = exc.reason
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_exception_handlers(app: FastAPI) -> None:
    """Answer `AuthError`s raised in the application's own routes as the router does.

    After this, `raise InvalidTokenError()` (or any `AuthError`) in a route becomes
    401 with `WWW-Authenticate: Bearer`, 403, 429 with `Retry-After`, or 503.
    """

    async def _auth_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)  # noqa: S101 - registered for AuthError only
        return error_response(to_http(exc))

    async def _auth_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthHTTPException)  # noqa: S101
        return error_response(exc)

    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(AuthHTTPException, _auth_http)
