"""`/login`, `/refresh`, `/fresh`, `/logout` and `/logout-all`."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import BaseModel, Field, ValidationError

from authmanager._core.settings import AuthSettings
from authmanager._core.tokens import TokenPayload
from authmanager._services.binding import Binder
from authmanager._services.logins import LoginService
from authmanager._services.rotation import RotationService
from authmanager._services.sessions import SessionService
from authmanager._services.stepup import StepUpService
from authmanager._web.dependencies import Dependencies
from authmanager._web.mfa_schemas import MfaRequiredBody
from authmanager._web.routing import NO_STORE, errors, malformed, token_response
from authmanager._web.schemas import DetailBody, RefreshBody, RevokedBody, TokenBody
from authmanager.exceptions import InvalidTokenError, Reason
from authmanager.mfa import MfaRequiredError, MfaService

__all__ = ["add_token_routes"]

MAX_BODY_BYTES = 32 * 1024

_REFRESH_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": RefreshBody.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["refresh_token"]},
                        "refresh_token": {"type": "string", "minLength": 1, "maxLength": 16384},
                    },
                    "required": ["refresh_token"],
                }
            },
        },
    }
}


class LoginForm(BaseModel):
    """The OAuth 2.0 password grant form (RFC 6749 §4.3.2)."""

    grant_type: str | None = Field(default=None, pattern="^password$")
    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=4096)
    scope: str = Field(default="", max_length=1024)
    device_id: str | None = Field(default=None, max_length=128)


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


def add_token_routes(
    router: APIRouter,
    *,
    settings: AuthSettings,
    deps: Dependencies[Any],
    binder: Binder,
    logins: LoginService[Any],
    sessions: SessionService[Any],
    rotation: RotationService,
    stepup: StepUpService,
    mfa: MfaService | None = None,
) -> None:
    """Add the routes that issue, rotate and end tokens to *router*.

    With *mfa*, a user with an active second factor gets, for a correct password, the
    403 `mfa_required` answer and an `mfa_token` instead of tokens.
    """
    transport = deps.transport

    @router.post(
        "/login",
        name="authmanager:login",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses={**errors(401, 403, 422, 429, 503), 403: {"model": MfaRequiredBody}},
        summary="Log in with the OAuth 2.0 password grant",
    )
    async def login(
        request: Request, response: Response, form: Annotated[LoginForm, Form()]
    ) -> TokenBody:
        transport.check_origin(request)
        client = transport.client(request)
        client = await binder.login_client(request, client, form.device_id)
        user = await logins.authenticate(form.username, form.password, client, None)
        if mfa is not None and (challenge := await mfa.second_step(user, client=client)):
            raise MfaRequiredError(challenge)  # 403 mfa_required, the mfa_token in the body
        pair = await sessions.start(user, client=client, amr=["pwd"], fresh=True)
        return token_response(settings, transport, pair, response)

    @router.post(
        "/refresh",
        name="authmanager:refresh",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=errors(401, 403, 422, 429, 503),
        summary="Rotate the refresh token (cookie, JSON or OAuth 2.0 form)",
        openapi_extra=_REFRESH_BODY,
    )
    async def refresh(request: Request, response: Response) -> Any:
        cookie = transport.refresh_cookie(request)
        try:
            body_token = await _read_body_token(request)
        except ValueError as exc:
            return malformed(str(exc))
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
        client = await binder.with_proof(request, transport.client(request))
        pair = await rotation.rotate(token, client, None)
        return token_response(settings, transport, pair, response)

    @router.post(
        "/logout",
        name="authmanager:logout",
        response_model=DetailBody,
        responses=errors(401, 403, 503),
        summary="End the current session",
    )
    async def logout(result: dict[str, str] = Depends(deps.logout)) -> dict[str, str]:
        return result

    @router.post(
        "/logout-all",
        name="authmanager:logout_all",
        response_model=RevokedBody,
        responses=errors(401, 403, 503),
        summary="End every session of the user",
    )
    async def logout_all(result: dict[str, Any] = Depends(deps.logout_all)) -> dict[str, Any]:
        return result

    @router.post(
        "/fresh",
        name="authmanager:fresh",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=errors(401, 403, 422, 429, 503),
        summary="Re-enter the password for a fresh access token in this session",
    )
    async def fresh(
        request: Request,
        response: Response,
        password: Annotated[str, Form(min_length=1, max_length=4096)],
        payload: TokenPayload = Depends(deps.token_data),
    ) -> TokenBody:
        transport.check_origin(request)
        client = transport.client(request)
        token, expires_in = await stepup.fresh_access(payload, password, client)
        response.headers.update(NO_STORE)
        token_type = "DPoP" if payload.get("cnf") else "bearer"
        return TokenBody(access_token=token, expires_in=expires_in, token_type=token_type)
