"""The route class of every authmanager route, and the answers routes share."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import Message, Receive, Scope, Send

from authmanager._core.settings import AuthSettings
from authmanager._core.tokens import TokenPair
from authmanager._web.http import AuthHTTPException, describe, error_response, to_http
from authmanager._web.pages import render_error
from authmanager._web.schemas import ErrorBody, TokenBody
from authmanager._web.transport import Transport
from authmanager.exceptions import AuthError, Reason

__all__ = ["NO_STORE", "AuthRoute", "bounded_route", "errors", "malformed", "token_response"]

#: Token responses are never cached (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_GRANT_ROUTES = frozenset(
    {
        "authmanager:login",
        "authmanager:refresh",
        # The second step of a sign-in, and a passkey sign-in: token endpoints too.
        "authmanager:mfa_verify",
        "authmanager:mfa_passkey_options",
        "authmanager:passkey_login",
    }
)
#: Routes that receive an identity provider's answer (see `to_http(provider=True)`).
_PROVIDER_ROUTES = frozenset({"authmanager:oidc_callback", "authmanager:oidc_token"})
#: Routes a browser navigates to: their errors are an HTML page unless JSON is asked for.
_PAGE_ROUTES = frozenset({"authmanager:oidc_authorize", "authmanager:oidc_callback"})


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entry of the library's error codes."""
    return {code: {"model": ErrorBody} for code in codes}


def _too_large(limit: int) -> AuthHTTPException:
    return to_http(
        AuthError(f"The request body exceeds {limit} bytes.", reason=Reason.BODY_TOO_LARGE)
    )


def _declared_length(scope: Scope) -> int | None:
    """The request's `Content-Length`, or None when absent or not a number."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() else None
    return None


def _bounded(receive: Receive, limit: int, declared: int | None) -> Receive:
    """*receive*, raising 413 once the body is longer than *limit*, before it is kept whole."""
    seen = 0

    async def bounded_receive() -> Message:
        nonlocal seen
        if declared is not None and declared > limit:
            raise _too_large(limit)  # refused before a byte is read
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:  # chunked, or a body longer than it said
                raise _too_large(limit)
        return message

    return bounded_receive


class AuthRoute(APIRoute):
    """Render authmanager's errors, from dependencies or handlers, as JSON with `error`.

    Every body a route reads (FastAPI's form and JSON parsing, or the route itself) is
    counted while it streams and refused with 413 past `max_body_bytes`: the bound
    holds for every route of the library, present and to come, as none is built
    on another class.
    """

    #: The largest body read; `bounded_route` makes the class of one manager's settings.
    max_body_bytes: int = 64 * 1024

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its body bounded."""
        if scope["type"] == "http":
            receive = _bounded(receive, self.max_body_bytes, _declared_length(scope))
        await super().handle(scope, receive, send)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        grant = self.name in _GRANT_ROUTES
        provider = self.name in _PROVIDER_ROUTES
        page = self.name in _PAGE_ROUTES

        def render(request: Request, exc: AuthHTTPException) -> Response:
            return render_error(request, exc) if page else error_response(exc)

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthHTTPException as exc:
                return render(request, exc)
            except AuthError as exc:
                return render(request, to_http(exc, grant=grant, provider=provider))
            except RequestValidationError as exc:
                return _invalid_request(exc)

        return route


def bounded_route(max_body_bytes: int) -> type[AuthRoute]:
    """The route class of one manager: `AuthRoute` reading at most *max_body_bytes*."""
    return type("AuthRoute", (AuthRoute,), {"max_body_bytes": max_body_bytes})


def _invalid_request(exc: RequestValidationError) -> JSONResponse:
    """422 with RFC 6749's `invalid_request`; never echo the input (it may hold a password)."""
    found = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in found)
    body = {
        "detail": found,
        "error": "invalid_request",
        "error_description": describe(f"The request is malformed ({fields})."),
    }
    return JSONResponse(body, status_code=422, headers=NO_STORE)


def malformed(message: str) -> JSONResponse:
    """422 `invalid_request` for a body the route parses itself."""
    body = {"detail": message, "error": "invalid_request", "error_description": describe(message)}
    return JSONResponse(body, status_code=422, headers=NO_STORE)


def token_response(
    settings: AuthSettings, transport: Transport, pair: TokenPair, response: Response
) -> TokenBody:
    """The RFC 6749 §5.1 body of *pair*; the refresh token per the transport setting."""
    mode = settings.refresh_token_transport
    response.headers.update(NO_STORE)
    body = TokenBody(
        access_token=pair.access_token, expires_in=pair.expires_in, token_type=pair.token_type
    )
    if mode in {"cookie", "both"}:
        transport.set_refresh_cookie(response, pair.refresh_token, pair.refresh_expires_in)
    if mode in {"body", "both"}:
        body.refresh_token = pair.refresh_token
        body.refresh_expires_in = pair.refresh_expires_in
    body.scope = pair.scope
    return body
