"""`/login`, `/refresh`, `/fresh`, `/logout` and `/logout-all`."""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import BaseModel, Field, ValidationError, field_validator

from authmanager._core.settings import AuthSettings
from authmanager._core.text import has_control
from authmanager._core.tokens import TokenPayload
from authmanager._services.binding import Binder
from authmanager._services.logins import LoginService
from authmanager._services.rotation import RotationService
from authmanager._services.sessions import SessionService
from authmanager._services.stepup import StepUpService
from authmanager._web.dependencies import Dependencies
from authmanager._web.routing import NO_STORE, errors, malformed, token_response
from authmanager._web.schemas import DetailBody, RefreshBody, RevokedBody, TokenBody
from authmanager.exceptions import AuthError, InvalidTokenError, Reason

__all__ = ["add_token_routes"]


def _refresh_openapi(settings: AuthSettings) -> dict[str, Any]:
    """The OpenAPI body and CSRF header of `/refresh`: every part optional, form first.

    The form comes first so that Swagger UI's "Try it out" sends nothing unless asked
    (its JSON example `{"refresh_token": "string"}` beside the cookie was refused as
    duplicate credentials).
    """
    token = {
        "type": "string",
        "minLength": 1,
        "maxLength": 16384,
        "description": "Omit it to use the refresh cookie.",
        "examples": [""],
    }
    return {
        "parameters": [
            {
                "name": settings.csrf_header_name,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": (
                    "The csrf cookie's value (double-submit), for a cookie refresh from a "
                    "browser that sends no `Sec-Fetch-Site: same-origin` (older browsers, "
                    "or an allowed origin). Same-origin pages, Swagger UI included, and "
                    "body refreshes need not send it."
                ),
            }
        ],
        "requestBody": {
            "required": False,
            "description": "Empty to use the refresh cookie; or the refresh token itself.",
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "grant_type": {
                                "type": "string",
                                "enum": ["refresh_token"],
                                "examples": [""],
                            },
                            "refresh_token": token,
                        },
                    }
                },
                "application/json": {"schema": RefreshBody.model_json_schema()},
            },
        },
    }


def _unsupported_grant(takes: str, other: str) -> AuthError:
    """400 `unsupported_grant_type` (RFC 6749 §5.2), naming the route that takes *other*."""
    return AuthError(
        f"Unsupported grant_type: this endpoint takes grant_type={takes}; {other}.",
        reason=Reason.UNSUPPORTED_GRANT_TYPE,
    )


class LoginForm(BaseModel):
    """The OAuth 2.0 password grant form (RFC 6749 §4.3.2)."""

    grant_type: str | None = Field(
        default=None, pattern="^password$", description="`password` (or absent)."
    )
    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=4096)
    scope: str = Field(
        default="",
        max_length=1024,
        description="Space-separated scopes to ask for; the token gets those the user holds.",
    )
    device_id: str | None = Field(default=None, max_length=128)

    @field_validator("username", "device_id")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # A NUL or other control character is nobody's login name; PostgreSQL would
        # refuse it in a query (a 503), and a log line would carry it.
        if value is not None and has_control(value):
            raise ValueError("must not contain control characters")
        return value


async def _read_body_token(request: Request, login_url: str) -> str | None:
    """Return the refresh token of a JSON or form body; None for none (then the cookie).

    A form may leave `refresh_token` out or blank (Swagger UI's "Try it out" does) to
    use the cookie, as its OpenAPI schema says.

    Raises:
        ValueError: the body is malformed (answered 422).
        AuthError: the form names another grant type (answered 400).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()  # bounded by the route class (`max_body_bytes`)
    if not raw:
        return None
    if content_type == "application/x-www-form-urlencoded":
        form = await request.form()
        grant = form.get("grant_type") or None  # blank: what Swagger UI sends, untouched
        if grant is not None and grant != "refresh_token":
            raise _unsupported_grant("refresh_token", f"log in at {login_url}")
        token = form.get("refresh_token")
        if token is not None and not isinstance(token, str):
            raise ValueError("refresh_token must be text.")
        return token or None  # omitted or blank: the refresh cookie
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
) -> None:
    """Add the routes that issue, rotate and end tokens to *router*."""
    transport = deps.transport
    login_url, refresh_url = f"{settings.route_prefix}/login", f"{settings.route_prefix}/refresh"

    async def password_grant(request: Request) -> None:
        """Refuse another grant with 400 `unsupported_grant_type` (RFC 6749 §5.2).

        A dependency, so it runs before the form's fields are validated: a refresh-token
        grant sent to `/login` lacks `username`, and would otherwise be a 422.
        """
        grant = (await request.form()).get("grant_type")
        if grant is not None and grant != "password":
            raise _unsupported_grant("password", f"send refresh tokens to {refresh_url}")

    @router.post(
        "/login",
        name="authmanager:login",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=errors(400, 401, 403, 413, 422, 429, 503),
        summary="Log in with the OAuth 2.0 password grant",
        dependencies=[Depends(password_grant)],
    )
    async def login(
        request: Request, response: Response, form: Annotated[LoginForm, Form()]
    ) -> TokenBody:
        transport.check_origin(request)
        client = transport.client(request)
        client = await binder.login_client(request, client, form.device_id)
        user = await logins.authenticate(form.username, form.password, client, None, announce=False)
        scopes = form.scope.split() or None
        # `start` reports login.succeeded, naming the session it started.
        pair = await sessions.start(
            user, client=client, amr=["pwd"], fresh=True, scopes=scopes, announce=True
        )
        return token_response(settings, transport, pair, response)

    @router.post(
        "/refresh",
        name="authmanager:refresh",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=errors(400, 401, 403, 413, 422, 429, 503),
        summary="Rotate the refresh token (cookie, JSON or OAuth 2.0 form)",
        openapi_extra=_refresh_openapi(settings),
    )
    async def refresh(request: Request, response: Response) -> Any:
        # Before anything else, whatever carries the token: a cross-site form posting the
        # attacker's own refresh token would set their cookies in the victim's browser.
        transport.check_origin(request)
        cookie = transport.refresh_cookie(request)
        try:
            body_token = await _read_body_token(request, login_url)
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
        responses=errors(401, 403, 413, 422, 429, 503),
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
