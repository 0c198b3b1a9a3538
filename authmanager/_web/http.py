"""The one table from authmanager's exceptions to HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from authmanager.accounts._errors import (
    InvalidAddressError,
    InvalidFieldsError,
    PasswordPolicyError,
)
from authmanager.exceptions import (
    AuthError,
    InvalidCredentialsError,
    InvalidTokenError,
    RateLimitExceededError,
    Reason,
    TokenStoreUnavailableError,
)
from authmanager.mfa.types import MfaRequiredError

__all__ = [
    "INPUT_ERRORS",
    "AuthHTTPException",
    "as_http",
    "describe",
    "error_response",
    "input_error_response",
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
    # Account flows: an unverified user with the right password; a taken login.
    Reason.EMAIL_NOT_VERIFIED: _Answer(403, "email_not_verified"),
    Reason.LOGIN_TAKEN: _Answer(409, "login_taken"),
    # Second factors: a right password that needs a second step (the body adds the
    # `mfa_token`), a session signed in without one (RFC 9470's error code), a kind of
    # factor turned off, and the states of a user's factors.
    Reason.MFA_REQUIRED: _Answer(403, "mfa_required"),
    Reason.INSUFFICIENT_AUTHENTICATION: _Answer(403, "insufficient_user_authentication"),
    Reason.MFA_UNAVAILABLE: _Answer(404, "mfa_unavailable"),
    Reason.UNKNOWN_FACTOR: _Answer(404, "unknown_factor"),
    Reason.NO_FACTOR: _Answer(409, "no_factor"),
    Reason.TOO_MANY_FACTORS: _Answer(409, "too_many_factors"),
}
# Outside the grant routes the caller is signed in already: a wrong proof for a factor
# being added (a code, a passkey response, a spent challenge) is a bad request, not a
# 401, which would tell the client its session is gone.
_FACTOR_PROOFS = frozenset(
    {Reason.WRONG_CODE, Reason.CODE_REPLAYED, Reason.PASSKEY, Reason.SIGN_COUNT, Reason.CHALLENGE}
)
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


# The account flows refuse bad input with `ValueError`s (the contract says a weak password
# is one): 422 `invalid_request`, the reason naming the check, a weak password its `rule`.
_INPUT_REASONS: dict[type[ValueError], Reason] = {
    PasswordPolicyError: Reason.PASSWORD_POLICY,
    InvalidAddressError: Reason.INVALID_ADDRESS,
    InvalidFieldsError: Reason.INVALID_FIELDS,
}
#: The input errors `input_error_response` answers.
INPUT_ERRORS: tuple[type[ValueError], ...] = tuple(_INPUT_REASONS)


def _answer(exc: AuthError, grant: bool = False, *, provider: bool = False) -> _Answer:
    if exc.reason in _BY_REASON:
        return _BY_REASON[exc.reason]
    if not grant and exc.reason in _FACTOR_PROOFS:
        return _Answer(400, "invalid_grant")
    for kind, answer in _FROM_PROVIDER if provider else ():
        if isinstance(exc, kind):
            return answer
    for kind, answer in _BY_CLASS:
        if isinstance(exc, kind):
            return answer
    return _Answer(401, "invalid_request")  # pragma: no cover - AuthError is last


# RFC 6750 §3.1 and RFC 9470 §3: the token is fine, the authentication behind it is not.
_STEP_UP = frozenset({"insufficient_scope", "insufficient_user_authentication"})


def _headers(exc: AuthError, answer: _Answer) -> dict[str, str]:
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if answer.status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer error="{answer.error}"'
            if answer.error in {"invalid_token", "invalid_request"}
            else "Bearer"
        )
    elif answer.status == 403 and answer.error in _STEP_UP:
        headers["WWW-Authenticate"] = f'Bearer error="{answer.error}"'
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
        answer = _answer(exc, grant, provider=provider)
        error = answer.error
        if grant and answer.status == 401:
            # RFC 6749 §5.2: token-endpoint failures are invalid_grant / invalid_request.
            error = "invalid_request" if error == "invalid_request" else "invalid_grant"
        super().__init__(answer.status, exc.message, _headers(exc, answer))
        self.error = error
        self.reason = str(exc.reason)
        #: Members the body adds to `detail`, `error` and `reason` (an `mfa_token`).
        self.fields: dict[str, Any] = exc.fields() if isinstance(exc, MfaRequiredError) else {}


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
        body.update(exc.fields)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def input_error_response(exc: ValueError) -> JSONResponse:
    """422 `invalid_request` for an input error of `INPUT_ERRORS` (its message is safe)."""
    reason = next(r for kind, r in _INPUT_REASONS.items() if isinstance(exc, kind))
    body: dict[str, Any] = {"detail": str(exc), "error": "invalid_request", "reason": reason}
    if isinstance(exc, PasswordPolicyError):
        body["rule"] = exc.rule
    return JSONResponse(body, status_code=422, headers={"Cache-Control": "no-store"})


def install_exception_handlers(app: FastAPI) -> None:
    """Answer `AuthError`s raised in the application's own routes as the router does.

    After this, `raise InvalidTokenError()` (or any `AuthError`) in a route becomes
    401 with `WWW-Authenticate: Bearer`, 403, 429 with `Retry-After`, or 503; and the
    account flows' input errors (a `PasswordPolicyError` from `change_password`, ...)
    become 422 naming the rule.
    """

    async def _auth_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)  # noqa: S101 - registered for AuthError only
        return error_response(to_http(exc))

    async def _auth_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthHTTPException)  # noqa: S101
        return error_response(exc)

    async def _input(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, INPUT_ERRORS)  # noqa: S101 - registered for these only
        return input_error_response(exc)

    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(AuthHTTPException, _auth_http)
    for kind in INPUT_ERRORS:
        app.add_exception_handler(kind, _input)
