"""The account routes: registration, verification, password reset, email change, sign-in links.

Mounted only when the manager has a sender. Each route parses its body, calls one
method of the account service and shapes the answer. The requests that name an account
by its login (`/password/forgot`, `/login-link`, and `/register` with verification
required) answer one constant body, whatever happened: the messages go out in the
background, so neither the answer nor its timing tells whether the account exists.
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from authmanager._core.settings import AuthSettings
from authmanager._services.binding import Binder
from authmanager._services.liveness import user_id_of
from authmanager._web.account_schemas import (
    AcceptedBody,
    CreatedBody,
    LoginBody,
    NewLoginBody,
    PolicyErrorBody,
    RegisterBody,
    ResetBody,
    TokenInBody,
)
from authmanager._web.dependencies import Dependencies
from authmanager._web.http import INPUT_ERRORS, input_error_response
from authmanager._web.routing import NO_STORE, errors, token_response
from authmanager._web.schemas import ErrorBody, RevokedBody, TokenBody
from authmanager.accounts._errors import MissingLoaderMethodError
from authmanager.accounts._service import AccountService
from authmanager.exceptions import InvalidTokenError, Reason

__all__ = ["add_account_routes"]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Any]])

_ACCEPTED = {
    "register": "A message with the next step is on its way to this address.",
    "forgot": "If an account uses this login, a password reset link is on its way to it.",
    "link": "If an account uses this login, a sign-in link is on its way to it.",
    "verify": "A verification link is on its way to your address.",
    "change": "A confirmation link is on its way to the new address.",
}
# Refusals of the request itself, not of the link's token: they keep their own answers.
_NOT_THE_GRANT = frozenset({Reason.DPOP, Reason.DEVICE_MISMATCH, Reason.CSRF})


def _body(status: int, detail: str, error: str, reason: Reason) -> JSONResponse:
    content = {"detail": detail, "error": error, "reason": str(reason)}
    return JSONResponse(content, status_code=status, headers=NO_STORE)


def _answers(*, confirm: bool = False) -> Callable[[Endpoint], Endpoint]:
    """The account routes' errors, in one place, over the library's table (`_web/http.py`).

    Bad input (a weak password naming its `rule`, a malformed address, refused fields)
    is 422 `invalid_request`; a loader without the method a flow needs is 501; on the
    confirm routes (*confirm*), a bad, used or expired link token is RFC 6749's 400
    `invalid_grant`. Every other `AuthError` (403 `email_not_verified`, 409, 429, 503)
    goes on to the route class, which answers from the table.
    """

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def answered(*args: Any, **kwargs: Any) -> Any:
            try:
                return await endpoint(*args, **kwargs)
            except INPUT_ERRORS as exc:
                return input_error_response(exc)
            except MissingLoaderMethodError as exc:
                return _body(501, str(exc), "unsupported", Reason.FLOW_UNAVAILABLE)
            except InvalidTokenError as exc:
                if not confirm or exc.reason in _NOT_THE_GRANT:
                    raise
                return _body(400, exc.message, "invalid_grant", exc.reason)

        return answered  # type: ignore[return-value]

    return decorate


def add_account_routes(
    router: APIRouter,
    *,
    settings: AuthSettings,
    deps: Dependencies[Any],
    binder: Binder,
    accounts: AccountService[Any],
) -> None:
    """Add the account routes to *router* (`/register` only if the loader has `create_user`)."""
    transport = deps.transport
    verified = settings.require_verified_email
    asked = errors(422, 429, 501, 503)
    confirmed = {**errors(400, 422, 429, 501, 503)}

    if accounts.can_register:

        @router.post(
            "/register",
            name="authmanager:register",
            status_code=202 if verified else 201,
            response_model=AcceptedBody if verified else CreatedBody,
            responses={
                **asked,
                **({} if verified else errors(409)),
                422: {"model": PolicyErrorBody},
            },
            summary="Create an account",
        )
        @_answers()
        async def register(request: Request, response: Response, body: RegisterBody) -> Any:
            client = transport.client(request)
            response.headers.update(NO_STORE)
            if verified:
                # Answered before the look-up and the INSERT: taken or free, the same time.
                await accounts.request_registration(
                    body.login, body.password, fields=body.fields(), client=client
                )
                return AcceptedBody(detail=_ACCEPTED["register"])
            user = await accounts.register(
                body.login, body.password, fields=body.fields(), client=client
            )
            return CreatedBody(id=user_id_of(user))

    @router.post(
        "/verify-email/request",
        name="authmanager:request_email_verification",
        status_code=202,
        response_model=AcceptedBody,
        responses=errors(401, 429, 501, 503),
        summary="Send the user a link that verifies their email address",
    )
    @_answers()
    async def request_email_verification(
        request: Request, user: Any = Depends(deps.current_user)
    ) -> AcceptedBody:
        await accounts.request_email_verification(user, client=transport.client(request))
        return AcceptedBody(detail=_ACCEPTED["verify"])

    @router.post(
        "/verify-email",
        name="authmanager:verify_email",
        response_model=AcceptedBody,
        responses=confirmed,
        summary="Verify the email address with the token of a verify_email link",
    )
    @_answers(confirm=True)
    async def verify_email(request: Request, body: TokenInBody) -> AcceptedBody:
        await accounts.verify_email(body.token, client=transport.client(request))
        return AcceptedBody(detail="Your email address is verified.")

    @router.post(
        "/password/forgot",
        name="authmanager:forgot_password",
        status_code=202,
        response_model=AcceptedBody,
        responses=asked,
        summary="Send a password reset link (the same answer for any login)",
    )
    @_answers()
    async def forgot_password(request: Request, body: LoginBody) -> AcceptedBody:
        await accounts.request_password_reset(body.login, client=transport.client(request))
        return AcceptedBody(detail=_ACCEPTED["forgot"])

    @router.post(
        "/password/reset",
        name="authmanager:reset_password",
        response_model=RevokedBody,
        responses={**confirmed, 422: {"model": PolicyErrorBody}},
        summary="Choose a new password with the token of a reset_password link",
    )
    @_answers(confirm=True)
    async def reset_password(request: Request, body: ResetBody) -> RevokedBody:
        count = await accounts.reset_password(
            body.token, body.password, client=transport.client(request)
        )
        return RevokedBody(
            detail="Your password is changed; every session has ended.", revoked=count
        )

    @router.post(
        "/email/change",
        name="authmanager:request_email_change",
        status_code=202,
        response_model=AcceptedBody,
        responses=errors(401, 422, 429, 501, 503),
        summary="Send a link to a new address; the change waits for its confirmation",
    )
    @_answers()
    async def request_email_change(
        request: Request, body: NewLoginBody, user: Any = Depends(deps.fresh_user)
    ) -> AcceptedBody:
        await accounts.request_email_change(user, body.new_login, client=transport.client(request))
        return AcceptedBody(detail=_ACCEPTED["change"])

    @router.post(
        "/email/confirm",
        name="authmanager:confirm_email_change",
        response_model=AcceptedBody,
        responses={**confirmed, **errors(409)},
        summary="Make the new address the account's login with the token of its link",
    )
    @_answers(confirm=True)
    async def confirm_email_change(request: Request, body: TokenInBody) -> AcceptedBody:
        await accounts.confirm_email_change(body.token, client=transport.client(request))
        return AcceptedBody(detail="Your email address is changed.")

    @router.post(
        "/login-link",
        name="authmanager:request_login_link",
        status_code=202,
        response_model=AcceptedBody,
        responses=asked,
        summary="Send a sign-in link (the same answer for any login)",
    )
    @_answers()
    async def request_login_link(request: Request, body: LoginBody) -> AcceptedBody:
        await accounts.request_login_link(body.login, client=transport.client(request))
        return AcceptedBody(detail=_ACCEPTED["link"])

    @router.post(
        "/login-link/confirm",
        name="authmanager:login_with_link",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses={**confirmed, 403: {"model": ErrorBody}},
        summary="Sign in with the token of a login_link (the /login token response)",
    )
    @_answers(confirm=True)
    async def login_with_link(request: Request, response: Response, body: TokenInBody) -> TokenBody:
        # It sets the refresh cookie: refused from another site, as /login is.
        transport.check_origin(request)
        client = await binder.login_client(request, transport.client(request), None)
        pair = await accounts.login_with_link(body.token, client=client)
        return token_response(settings, transport, pair, response)
