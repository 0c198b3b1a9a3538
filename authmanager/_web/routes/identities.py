"""Sign-in with providers (`/oidc/{provider}/...`) and the user's identities (`/identities`).

Cross-site requests, route by route (the login-CSRF class of issue 11):
- `GET /oidc/{provider}/authorize` may come from anywhere (a "Sign in with" link on
  another site is normal): it only starts a flow bound to this browser's cookie.
- `GET /oidc/{provider}/callback` signs someone in and sets the refresh cookie, but is
  a cross-site navigation by nature (the provider sends the browser back), so it gets
  `check_navigation`: the rule of `check_origin` less the one request every real
  sign-in is (a top-level navigation without `Origin`). A forged callback carries an
  attacker's code and state, but the state is only accepted from the browser holding
  the flow's cookie, so it cannot sign the victim in to the attacker's account.
- `POST /oidc/{provider}/token` signs someone in from a POST and, with the cookie
  transport, sets the refresh cookie: an attacker's page could post the attacker's own
  ID token to sign the victim's browser in to the attacker's account. The body must be
  `application/json` (a cross-site page cannot send it without CORS allowing it) and
  `check_origin` refuses a browser's cross-site request; native apps send neither
  `Origin` nor `Sec-Fetch-Site`, so they pass.
- `POST /oidc/{provider}/link` sets the flow cookie: `check_origin` as well, and a fresh
  bearer token, which a cross-site page cannot send.
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from authmanager._core.settings import AuthSettings
from authmanager._core.tokens import TokenPayload
from authmanager._services.binding import Binder
from authmanager._services.liveness import user_id_of
from authmanager._web.dependencies import Dependencies
from authmanager._web.identity_schemas import IdentityBody, IdTokenExchangeBody, LinkStartBody
from authmanager._web.routing import NO_STORE, errors, token_response
from authmanager._web.schemas import ErrorBody, TokenBody
from authmanager.identities import IdentityLinks

if TYPE_CHECKING:  # the service needs the oidc extra; it is built only with providers
    from authmanager.identities.service import IdentityService

__all__ = ["FlowCookie", "add_identity_routes"]

ProviderName = Annotated[str, Path(max_length=32, description="A name of AUTH_OIDC_PROVIDERS.")]


class FlowCookie:
    """The short-lived HttpOnly cookie that binds a provider sign-in to its browser.

    `SameSite=Lax`, not `Strict`: the provider's redirect back to the callback is a
    cross-site navigation, and the cookie must come with it.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self.name = settings.oidc_cookie_name
        self.path = f"{settings.route_prefix}/oidc"

    def read(self, request: Request) -> str | None:
        """The cookie's value, or None."""
        return request.cookies.get(self.name) or None

    def set(self, response: Response, value: str) -> None:
        """Set the cookie for the flow's lifetime."""
        s = self._settings
        response.set_cookie(
            self.name,
            value,
            max_age=s.oidc_flow_ttl_seconds,
            path=self.path,
            domain=s.cookie_domain,
            secure=s.cookie_secure,
            httponly=True,
            samesite="lax",
        )


def add_identity_routes(
    router: APIRouter,
    *,
    settings: AuthSettings,
    deps: Dependencies[Any],
    binder: Binder,
    links: IdentityLinks[Any],
    service: "IdentityService[Any] | None",
) -> None:
    """Add `/identities` to *router*, and the `/oidc/{provider}/...` routes with a *service*.

    The browser routes (authorize, callback, link) hand the session to the browser in
    the refresh cookie, so they are added only when the transport sets it.
    """
    _add_identity_list(router, deps=deps, links=links)
    if service is None:
        return
    _add_native_exchange(router, settings=settings, deps=deps, binder=binder, service=service)
    if settings.refresh_token_transport in {"cookie", "both"}:
        _add_browser_flow(router, settings=settings, deps=deps, binder=binder, service=service)


def _add_identity_list(
    router: APIRouter, *, deps: Dependencies[Any], links: IdentityLinks[Any]
) -> None:
    transport = deps.transport

    @router.get(
        "/identities",
        name="authmanager:identities",
        response_model=list[IdentityBody],
        responses=errors(401, 503),
        summary="List the identity providers linked to the user",
    )
    async def list_identities(
        payload: TokenPayload = Depends(deps.token_data),
    ) -> list[IdentityBody]:
        found = await links.list_identities(payload.sub)
        return [
            IdentityBody(
                id=i.id,
                provider=i.provider,
                issuer=i.issuer,
                subject=i.subject,
                email=i.email,
                created_at=i.created_at,
                last_used_at=i.last_used_at,
            )
            for i in found
        ]

    @router.delete(
        "/identities/{identity_id}",
        name="authmanager:unlink_identity",
        status_code=204,
        responses={**errors(401, 409, 503), 404: {"model": ErrorBody}},
        summary="Unlink an identity provider (fresh sign-in; never the last way to sign in)",
    )
    async def unlink_identity(
        request: Request,
        identity_id: Annotated[str, Path(max_length=64)],
        user: Any = Depends(deps.fresh_user),
    ) -> Response:
        client = transport.client(request)
        if not await links.unlink_identity(user_id_of(user), identity_id, client=client):
            return JSONResponse({"detail": "No such identity."}, status_code=404)
        return Response(status_code=204)


def _add_native_exchange(
    router: APIRouter,
    *,
    settings: AuthSettings,
    deps: Dependencies[Any],
    binder: Binder,
    service: "IdentityService[Any]",
) -> None:
    transport = deps.transport

    @router.post(
        "/oidc/{provider}/token",
        name="authmanager:oidc_token",
        response_model=TokenBody,
        response_model_exclude_none=True,
        responses=errors(400, 403, 404, 409, 422, 429, 502, 503),
        summary="Exchange a native app's ID token (and its nonce) for a session",
    )
    async def exchange_id_token(
        request: Request, response: Response, provider: ProviderName, body: IdTokenExchangeBody
    ) -> TokenBody:
        transport.check_origin(request)
        client = await binder.login_client(request, transport.client(request), None)
        pair = await service.exchange_id_token(
            provider, body.id_token, nonce=body.nonce, client=client
        )
        return token_response(settings, transport, pair, response)


def _add_browser_flow(
    router: APIRouter,
    *,
    settings: AuthSettings,
    deps: Dependencies[Any],
    binder: Binder,
    service: "IdentityService[Any]",
) -> None:
    transport = deps.transport
    cookie = FlowCookie(settings)

    @router.get(
        "/oidc/{provider}/authorize",
        name="authmanager:oidc_authorize",
        status_code=302,
        response_class=RedirectResponse,
        responses={
            302: {"description": "To the provider's sign-in page."},
            **errors(400, 404, 429, 502, 503),
        },
        summary="Start signing in with a provider (the browser is sent to it)",
    )
    async def authorize(
        request: Request,
        provider: ProviderName,
        next_path: Annotated[
            str | None, Query(alias="next", description="A same-site path to return to.")
        ] = None,
    ) -> Response:
        start = await service.begin(
            provider,
            next=next_path,
            client=transport.client(request),
            browser_cookie_value=cookie.read(request),
        )
        response = RedirectResponse(start.redirect_url, status_code=302, headers=NO_STORE)
        cookie.set(response, start.browser_cookie_value)
        return response

    @router.get(
        "/oidc/{provider}/callback",
        name="authmanager:oidc_callback",
        status_code=303,
        response_class=RedirectResponse,
        responses={
            303: {"description": "Signed in (or linked): to `next`."},
            **errors(400, 403, 404, 409, 502, 503),
        },
        summary="The provider's redirect back: a new session, then to `next`",
    )
    async def callback(
        request: Request,
        provider: ProviderName,
        code: str | None = None,
        state: str | None = None,
        iss: str | None = None,
        error: str | None = None,
    ) -> Response:
        transport.check_navigation(request)  # before the state is looked at or used
        client = await binder.login_client(request, transport.client(request), None)
        result = await service.complete(
            provider,
            code=None if error else code,
            state=state,
            browser_cookie_value=cookie.read(request),
            client=client,
            iss=iss,
        )
        response = RedirectResponse(result.next, status_code=303)
        if result.tokens is not None:
            token_response(settings, transport, result.tokens, response)
        response.headers.update(NO_STORE)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @router.post(
        "/oidc/{provider}/link",
        name="authmanager:oidc_link",
        response_model=LinkStartBody,
        responses={**errors(400, 401, 403, 404, 429, 502, 503)},
        summary="Start linking a provider to the signed-in user (fresh sign-in)",
    )
    async def link(
        request: Request,
        response: Response,
        provider: ProviderName,
        next_path: Annotated[
            str | None, Query(alias="next", description="A same-site path to return to.")
        ] = None,
        user: Any = Depends(deps.fresh_user),
    ) -> LinkStartBody:
        transport.check_origin(request)
        start = await service.begin(
            provider,
            next=next_path,
            purpose="link",
            link_user_id=user_id_of(user),
            client=transport.client(request),
            browser_cookie_value=cookie.read(request),
        )
        cookie.set(response, start.browser_cookie_value)
        response.headers.update(NO_STORE)
        return LinkStartBody(authorization_url=start.redirect_url)
