"""`build_router(manager)`: the routes of the contract, each a short handler."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

import json
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError

from authmanager._core.tokens import TokenPair, TokenPayload
from authmanager._services.login import login_claims
from authmanager._services.revocation import end_session
from authmanager._services.rotation import fresh_access
from authmanager._web.http import AuthHTTPException, error_response, to_http
from authmanager._web.schemas import (
    DetailBody,
    ErrorBody,
    JWKSBody,
    RefreshBody,
    RevokedBody,
    SessionBody,
    TokenBody,
)
from authmanager.exceptions import AuthError, InvalidTokenError, Reason

if TYPE_CHECKING:
    from authmanager._manager import AuthManager

__all__ = ["build_router"]

MAX_BODY_BYTES = 32 * 1024
_GRANT_ROUTES = frozenset({"authmanager:login", "authmanager:refresh"})
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _err(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


class _AuthRoute(APIRoute):
    """Render authmanager's errors, from dependencies or handlers, as JSON with `error`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        grant = self.name in _GRANT_ROUTES

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthHTTPException as exc:
                return error_response(exc)
            except AuthError as exc:
                return error_response(to_http(exc, grant=grant))
            except RequestValidationError as exc:
                return _invalid_request(exc)

        return route


def _invalid_request(exc: RequestValidationError) -> JSONResponse:
    """422 with RFC 6749's `invalid_request`; never echo the input (it may hold a password)."""
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse(
        {"detail": errors, "error": "invalid_request"}, status_code=422, headers=_NO_STORE
    )


class LoginForm(BaseModel):
    """The OAuth 2.0 password grant form (RFC 6749 §4.3.2)."""

    grant_type: str | None = Field(default=None, pattern="^password$")
    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=4096)
    scope: str = Field(default="", max_length=1024)
    device_id: str | None = Field(default=None, max_length=128)


def _malformed(message: str) -> JSONResponse:
    return JSONResponse(
        {"detail": message, "error": "invalid_request"}, status_code=422, headers=_NO_STORE
    )


def build_router(auth: "AuthManager[Any]") -> APIRouter:
    """Return the router of *auth*; the application mounts it under `route_prefix`."""
    router = APIRouter(route_class=_AuthRoute, tags=["auth"])
    _add_token_routes(router, auth)
    _add_session_routes(router, auth)
    if not auth._keys.symmetric:
        _add_jwks_route(router, auth)
    return router


def _token_response(auth: "AuthManager[Any]", pair: TokenPair, response: Response) -> TokenBody:
    transport = auth.settings.refresh_token_transport
    response.headers.update(_NO_STORE)
    body = TokenBody(
        access_token=pair.access_token, expires_in=pair.expires_in, token_type=pair.token_type
    )
    if transport in {"cookie", "both"}:
        auth._transport.set_refresh_cookie(response, pair.refresh_token, pair.refresh_expires_in)
    if transport in {"body", "both"}:
        body.refresh_token = pair.refresh_token
        body.refresh_expires_in = pair.refresh_expires_in
    return body


async def _read_body_token(request: Request) -> str | None:
    """Return the refresh token from a JSON or form body, None for an empty body.

    Raises:
        ValueError: the body is malformed (answered 422).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if not raw:
        return None
    if len(raw) > MAX_BODY_BYTES:
        raise ValueError("The request body is too large.")
    if content_type == "application/x-www-form-urlencoded":
        form = await request.form()
        grant = form.get("grant_type")
        if grant not in {None, "refresh_token"}:
            raise ValueError("grant_type must be refresh_token.")
        token = form.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise ValueError("The form lacks refresh_token.")
        return token
    if content_type == "application/json":
        try:
            return RefreshBody.model_validate(json.loads(raw)).refresh_token
        except (ValueError, ValidationError, RecursionError) as exc:
            raise ValueError('The JSON body must be {"refresh_token": "..."}.') from exc
    raise ValueError("Send the refresh token as JSON, as a form, or in its cookie.")


def _add_token_routes(router: APIRouter, auth: "AuthManager[Any]") -> None:
    transport = auth._transport

    @router.post(
        "/login",
        name="authmanager:login",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=_err(401, 403, 422, 429, 503),
        summary="Log in with the OAuth 2.0 password grant",
    )
    async def login(
        request: Request, response: Response, form: Annotated[LoginForm, Form()]
    ) -> TokenBody:
        transport.check_origin(request)
        client = transport.client(request)
        client = await auth._binder.login_client(request, client, form.device_id)
        user = await auth.authenticate(form.username, form.password, client=client)
        claims = await login_claims(auth, user)
        pair = await auth.create_token_pair(claims, client=client, fresh=True)
        return _token_response(auth, pair, response)

    @router.post(
        "/refresh",
        name="authmanager:refresh",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=_err(401, 403, 422, 429, 503),
        summary="Rotate the refresh token (cookie, JSON or OAuth 2.0 form)",
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {"schema": RefreshBody.model_json_schema()},
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["refresh_token"]},
                                "refresh_token": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": 16384,
                                },
                            },
                            "required": ["refresh_token"],
                        }
                    },
                },
            }
        },
    )
    async def refresh(request: Request, response: Response) -> Any:
        cookie = transport.refresh_cookie(request)
        try:
            body_token = await _read_body_token(request)
        except ValueError as exc:
            return _malformed(str(exc))
        if cookie and body_token and cookie != body_token:
            raise transport.refused(
                request,
                InvalidTokenError(
                    "Two different refresh tokens were sent.", reason=Reason.DUPLICATE_CREDENTIALS
                ),
            )
        token = body_token or cookie
        if token is None:
            raise InvalidTokenError("No refresh token was sent.", reason=Reason.MISSING)
        if body_token is None:
            transport.check_origin(request)
            transport.check_double_submit(request)
        client = await auth._binder.with_proof(request, transport.client(request))
        pair = await auth.refresh(token, client=client)
        return _token_response(auth, pair, response)

    @router.post(
        "/logout",
        name="authmanager:logout",
        response_model=DetailBody,
        responses=_err(401, 403, 503),
        summary="End the current session",
    )
    async def logout(result: dict[str, str] = Depends(auth.logout)) -> dict[str, str]:
        return result

    @router.post(
        "/logout-all",
        name="authmanager:logout_all",
        response_model=RevokedBody,
        responses=_err(401, 403, 503),
        summary="End every session of the user",
    )
    async def logout_all(result: dict[str, Any] = Depends(auth.logout_all)) -> dict[str, Any]:
        return result

    @router.post(
        "/fresh",
        name="authmanager:fresh",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=_err(401, 403, 422, 429, 503),
        summary="Re-enter the password for a fresh access token in this session",
    )
    async def fresh(
        request: Request,
        response: Response,
        password: Annotated[str, Form(min_length=1, max_length=4096)],
        payload: TokenPayload = Depends(auth.token_data),
    ) -> TokenBody:
        transport.check_origin(request)
        client = transport.client(request)
        token, expires_in = await fresh_access(auth, payload, password, client)
        response.headers.update(_NO_STORE)
        token_type = "DPoP" if payload.get("cnf") else "bearer"
        return TokenBody(access_token=token, expires_in=expires_in, token_type=token_type)


def _add_session_routes(router: APIRouter, auth: "AuthManager[Any]") -> None:
    @router.get(
        "/sessions",
        name="authmanager:sessions",
        response_model=list[SessionBody],
        responses=_err(401, 503),
        summary="List the user's active sessions",
    )
    async def sessions(payload: TokenPayload = Depends(auth.token_data)) -> list[SessionBody]:
        found = await auth.list_sessions(payload.sub)
        return [
            SessionBody(
                id=s.id,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                expires_at=s.expires_at,
                user_agent=s.user_agent,
                ip_address=s.ip_address,
                current=s.id == payload.sid,
            )
            for s in found
        ]

    @router.delete(
        "/sessions/{session_id}",
        name="authmanager:revoke_session",
        status_code=204,
        responses={**_err(401, 503), 404: {"model": ErrorBody}},
        summary="End one of the user's sessions",
    )
    async def revoke_session(
        request: Request,
        session_id: Annotated[str, Field(max_length=64)],
        payload: TokenPayload = Depends(auth.token_data),
    ) -> Response:
        client = auth._transport.client(request)
        ended = await end_session(
            auth,
            payload.sub,
            session_id,
            None,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
        )
        if not ended:
            return JSONResponse({"detail": "No such session."}, status_code=404)
        return Response(status_code=204)

    @router.post(
        "/sessions/revoke-others",
        name="authmanager:revoke_others",
        response_model=RevokedBody,
        responses=_err(401, 503),
        summary="End every session but the current one",
    )
    async def revoke_others(payload: TokenPayload = Depends(auth.token_data)) -> RevokedBody:
        count = await auth.revoke_all_user_tokens(payload.sub, exclude_token_id=payload.jti)
        return RevokedBody(detail="Every other session has ended.", revoked=count)


def _add_jwks_route(router: APIRouter, auth: "AuthManager[Any]") -> None:
    @router.get(
        "/.well-known/jwks.json",
        name="authmanager:jwks",
        response_model=JWKSBody,
        summary="Public keys that verify this service's tokens (RFC 7517)",
    )
    async def jwks(response: Response) -> dict[str, Any]:
        response.headers["Cache-Control"] = "public, max-age=300"
        return auth.jwks
