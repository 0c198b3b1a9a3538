"""Second factors: the `/mfa` step of a sign-in, `/factors` of the caller, and `/passkeys`.

Every route is mounted whatever the settings, so the API's shape does not depend on
them; the routes of a kind that is off (TOTP without `AUTH_MFA_TOTP_ENABLED`, passkeys
without `AUTH_WEBAUTHN_RP_ID`) answer 404 `mfa_unavailable`. Errors are answered from
the library's one table (`_web/http.py`): on the sign-in routes a refused answer is
401 `invalid_grant`; for a signed-in caller a wrong code or passkey response is 400,
an unknown factor 404, a conflict with the user's factors 409.
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import AfterValidator, Field

from authmanager._core.settings import AuthSettings
from authmanager._core.tokens import TokenPayload
from authmanager._services.binding import Binder
from authmanager._web.dependencies import Dependencies
from authmanager._web.http import as_http
from authmanager._web.mfa_schemas import (
    CodeBody,
    FactorBody,
    LabelBody,
    MfaTokenBody,
    MfaVerifyBody,
    RecoveryCodesBody,
    TotpEnrollmentBody,
    WebAuthnJSON,
)
from authmanager._web.routing import NO_STORE, errors, token_response
from authmanager._web.schemas import TokenBody
from authmanager.exceptions import AuthError, Reason
from authmanager.mfa import FactorInfo, MfaService
from authmanager.mfa.enrollment import clean_label

__all__ = ["add_mfa_routes"]

FactorId = Annotated[str, Field(min_length=1, max_length=64)]
#: A dependency that refuses the request when a kind of factor is off.
Guard = Callable[[], Awaitable[None]]
Label = Annotated[str | None, Query(max_length=100), AfterValidator(clean_label)]


def _factor(info: FactorInfo) -> FactorBody:
    return FactorBody(
        id=info.id,
        kind=info.kind,
        label=info.label,
        created_at=info.created_at,
        last_used_at=info.last_used_at,
    )


def _unavailable(kind: str, setting: str) -> AuthError:
    return AuthError(
        f"{kind} are not enabled on this server ({setting}).", reason=Reason.MFA_UNAVAILABLE
    )


def add_mfa_routes(
    router: APIRouter,
    *,
    settings: AuthSettings,
    deps: Dependencies[Any],
    binder: Binder,
    mfa: MfaService,
) -> None:
    """Add the second-factor routes to *router*."""

    async def totp_on() -> None:
        with as_http():
            if not mfa.totp_enabled:
                raise _unavailable("TOTP enrollments", "AUTH_MFA_TOTP_ENABLED")

    async def passkeys_on() -> None:
        with as_http():
            if not mfa.passkeys_enabled:
                raise _unavailable("Passkeys", "AUTH_WEBAUTHN_RP_ID")

    _add_signin_routes(
        router, settings=settings, deps=deps, binder=binder, mfa=mfa, passkeys_on=passkeys_on
    )
    _add_factor_routes(router, deps=deps, mfa=mfa, totp_on=totp_on)
    _add_passkey_routes(
        router, settings=settings, deps=deps, binder=binder, mfa=mfa, passkeys_on=passkeys_on
    )


def _add_signin_routes(
    router: APIRouter,
    *,
    settings: AuthSettings,
    deps: Dependencies[Any],
    binder: Binder,
    mfa: MfaService,
    passkeys_on: Guard,
) -> None:
    transport = deps.transport

    @router.post(
        "/mfa/verify",
        name="authmanager:mfa_verify",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=errors(401, 403, 404, 422, 429, 503),
        summary="Answer the mfa_token of /login with a TOTP code, a recovery code or a passkey",
    )
    async def mfa_verify(
        request: Request, response: Response, body: Annotated[MfaVerifyBody, Body()]
    ) -> TokenBody:
        transport.check_origin(request)
        client = await binder.login_client(request, transport.client(request), body.device_id)
        answer = body.model_dump(include={"code", "recovery_code", "passkey"})
        pair = await mfa.verify(body.mfa_token, client=client, **answer)
        return token_response(settings, transport, pair, response)

    @router.post(
        "/mfa/passkey-options",
        name="authmanager:mfa_passkey_options",
        response_model=WebAuthnJSON,
        responses=errors(401, 404, 409, 422, 503),
        dependencies=[Depends(passkeys_on)],
        summary="WebAuthn request options for the passkeys of the mfa_token's user",
    )
    async def mfa_passkey_options(response: Response, body: MfaTokenBody) -> WebAuthnJSON:
        response.headers.update(NO_STORE)
        return await mfa.passkey_options(body.mfa_token)


def _add_factor_routes(
    router: APIRouter, *, deps: Dependencies[Any], mfa: MfaService, totp_on: Guard
) -> None:
    @router.get(
        "/factors",
        name="authmanager:factors",
        response_model=list[FactorBody],
        responses=errors(401, 503),
        summary="List the caller's second factors",
    )
    async def list_factors(payload: TokenPayload = Depends(deps.token_data)) -> list[FactorBody]:
        return [_factor(f) for f in await mfa.list_factors(payload.sub)]

    @router.delete(
        "/factors/{factor_id}",
        name="authmanager:remove_factor",
        status_code=204,
        responses=errors(401, 404, 503),
        summary="Remove one of the caller's factors (needs a fresh login)",
    )
    async def remove_factor(factor_id: FactorId, user: Any = Depends(deps.fresh_user)) -> Response:
        if not await mfa.remove_factor(user, factor_id):
            raise AuthError("No such factor.", reason=Reason.UNKNOWN_FACTOR)
        return Response(status_code=204)

    @router.patch(
        "/factors/{factor_id}",
        name="authmanager:rename_factor",
        response_model=FactorBody,
        responses=errors(401, 404, 422, 503),
        summary="Rename one of the caller's factors",
    )
    async def rename_factor(
        factor_id: FactorId, body: LabelBody, user: Any = Depends(deps.current_user)
    ) -> FactorBody:
        if await mfa.rename_factor(user, factor_id, body.label):
            for info in await mfa.list_factors(str(user.id)):
                if info.id == factor_id:
                    return _factor(info)
        raise AuthError("No such factor.", reason=Reason.UNKNOWN_FACTOR)

    @router.post(
        "/factors/totp",
        name="authmanager:begin_totp",
        response_model=TotpEnrollmentBody,
        responses=errors(401, 404, 409, 422, 503),
        dependencies=[Depends(totp_on)],
        summary="Begin a TOTP enrollment (needs a fresh login); confirm it with a code",
    )
    async def begin_totp(
        response: Response,
        body: Annotated[LabelBody | None, Body()] = None,
        user: Any = Depends(deps.fresh_user),
    ) -> TotpEnrollmentBody:
        enrollment = await mfa.begin_totp(user, label=body.label if body else None)
        response.headers.update(NO_STORE)
        return TotpEnrollmentBody(
            factor_id=enrollment.factor_id,
            secret=enrollment.secret,
            otpauth_uri=enrollment.otpauth_uri,
            qr_svg=enrollment.qr_svg,
        )

    @router.post(
        "/factors/totp/{factor_id}/confirm",
        name="authmanager:confirm_totp",
        response_model=RecoveryCodesBody,
        responses=errors(400, 401, 404, 422, 429, 503),
        dependencies=[Depends(totp_on)],
        summary="Activate a TOTP enrollment with a code from the app",
    )
    async def confirm_totp(
        response: Response,
        factor_id: FactorId,
        body: CodeBody,
        user: Any = Depends(deps.current_user),
    ) -> RecoveryCodesBody:
        codes = await mfa.confirm_totp(user, factor_id, body.code)
        response.headers.update(NO_STORE)
        return RecoveryCodesBody(recovery_codes=codes)

    @router.post(
        "/factors/recovery-codes",
        name="authmanager:recovery_codes",
        response_model=RecoveryCodesBody,
        responses=errors(401, 409, 503),
        summary="Replace the caller's recovery codes with ten new ones (needs a fresh login)",
    )
    async def new_recovery_codes(
        response: Response, user: Any = Depends(deps.fresh_user)
    ) -> RecoveryCodesBody:
        codes = await mfa.new_recovery_codes(user)
        response.headers.update(NO_STORE)
        return RecoveryCodesBody(recovery_codes=codes)


def _add_passkey_routes(
    router: APIRouter,
    *,
    settings: AuthSettings,
    deps: Dependencies[Any],
    binder: Binder,
    mfa: MfaService,
    passkeys_on: Guard,
) -> None:
    transport = deps.transport

    @router.post(
        "/passkeys/register/options",
        name="authmanager:passkey_registration_options",
        response_model=WebAuthnJSON,
        responses=errors(401, 404, 409, 503),
        dependencies=[Depends(passkeys_on)],
        summary="WebAuthn creation options for a new passkey (needs a fresh login)",
    )
    async def registration_options(
        response: Response, user: Any = Depends(deps.fresh_user)
    ) -> WebAuthnJSON:
        response.headers.update(NO_STORE)
        return await mfa.passkey_registration_options(user)

    @router.post(
        "/passkeys/register",
        name="authmanager:register_passkey",
        status_code=201,
        response_model=FactorBody,
        responses=errors(400, 401, 404, 409, 422, 503),
        dependencies=[Depends(passkeys_on)],
        summary="Store the passkey the browser created (its PublicKeyCredential JSON)",
    )
    async def register_passkey(
        credential: Annotated[WebAuthnJSON, Body()],
        label: Label = None,
        user: Any = Depends(deps.current_user),
    ) -> FactorBody:
        return _factor(await mfa.register_passkey(user, credential, label=label))

    @router.post(
        "/passkeys/login/options",
        name="authmanager:passkey_login_options",
        response_model=WebAuthnJSON,
        responses=errors(404, 429, 503),
        dependencies=[Depends(passkeys_on)],
        summary="WebAuthn request options for a passwordless sign-in",
    )
    async def passkey_login_options(request: Request, response: Response) -> WebAuthnJSON:
        response.headers.update(NO_STORE)
        return await mfa.passkey_login_options(client=transport.client(request))

    @router.post(
        "/passkeys/login",
        name="authmanager:passkey_login",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=errors(401, 403, 404, 422, 503),
        dependencies=[Depends(passkeys_on)],
        summary="Sign in with a passkey alone (its PublicKeyCredential JSON)",
    )
    async def passkey_login(
        request: Request, response: Response, credential: Annotated[WebAuthnJSON, Body()]
    ) -> TokenBody:
        transport.check_origin(request)
        client = await binder.login_client(request, transport.client(request), None)
        pair = await mfa.login_with_passkey(credential, client=client)
        return token_response(settings, transport, pair, response)
