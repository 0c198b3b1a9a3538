"""The FastAPI dependencies of one manager, built once, as closures over it.

FastAPI matches `dependency_overrides` and its per-request cache by callable identity,
so each dependency is created once and kept on the manager.
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request, Response

from authmanager._core.clock import utcnow
from authmanager._core.tokens import TokenPayload
from authmanager._services.revocation import end_session, revoke_all
from authmanager._services.verification import rejected, verify_for_user
from authmanager._web.http import to_http
from authmanager._web.transport import BearerScheme, Transport
from authmanager.exceptions import AuthError, InvalidTokenError, Reason
from authmanager.hooks import EventName

if TYPE_CHECKING:
    from authmanager._manager import AuthManager

__all__ = ["Dependencies", "build_dependencies"]


@dataclass(frozen=True, slots=True)
class Dependencies:
    """The dependency callables of one manager."""

    bearer: BearerScheme
    transport: Transport
    token_data: Callable[..., Any]
    current_user: Callable[..., Any]
    optional_user: Callable[..., Any]
    fresh_user: Callable[..., Any]
    refresh_token_from_cookie: Callable[..., Any]
    logout: Callable[..., Any]
    logout_all: Callable[..., Any]
    token_validator: Callable[[Callable[[TokenPayload], bool]], Callable[..., Any]]
    require_scopes: Callable[..., Callable[..., Any]]


def build_dependencies(auth: "AuthManager[Any]") -> Dependencies:
    """Build every dependency of *auth* once."""
    settings = auth.settings
    bearer = BearerScheme(
        tokenUrl=f"{settings.route_prefix}/login",
        auto_error=False,
        refreshUrl=f"{settings.route_prefix}/refresh",
    )

    def report(request: Request, exc: AuthError) -> None:
        # Refusals before token verification; a missing token is anonymous traffic.
        if exc.reason is not Reason.MISSING:
            rejected(auth, exc, None, transport.client(request))

    transport = Transport(settings, on_reject=report)
    bearer.on_reject = report
    key = f"authmanager_{id(auth)}"
    fresh_window = timedelta(minutes=settings.fresh_token_minutes)

    # Depends(bearer) puts the OAuth2 scheme in the OpenAPI document (Swagger's Authorize).
    async def _token(token: str | None = Depends(bearer)) -> str | None:
        return token

    async def _resolve(request: Request, token: str | None, *, with_user: bool) -> tuple[Any, Any]:
        cached = getattr(request.state, key, None)
        if cached is not None and (cached[1] is not None or not with_user):
            found: tuple[Any, Any] = cached
            return found
        if token is None:
            raise to_http(InvalidTokenError("Not authenticated.", reason=Reason.MISSING))
        client = transport.client(request)
        try:
            if with_user:
                payload, user = await verify_for_user(auth, token, client)
            else:
                payload, user = await auth.verify_token(token, client=client), None
            if cached is None:  # DPoP proof, device and network: once per request
                await auth._binder.check_request(request, payload, token, client)
        except AuthError as exc:
            raise to_http(exc) from None
        setattr(request.state, key, (payload, user))
        return payload, user

    async def token_data(request: Request, token: str | None = Depends(_token)) -> TokenPayload:
        """The verified payload of the request's bearer access token (else 401)."""
        payload, _ = await _resolve(request, token, with_user=False)
        result: TokenPayload = payload
        return result

    async def current_user(request: Request, token: str | None = Depends(_token)) -> Any:
        """The user of the request's bearer access token (else 401)."""
        _, user = await _resolve(request, token, with_user=True)
        return user

    async def optional_user(request: Request, token: str | None = Depends(_token)) -> Any:
        """The user, or None without credentials; a bad token is still 401."""
        if token is None:
            return None
        _, user = await _resolve(request, token, with_user=True)
        return user

    async def fresh_user(request: Request, token: str | None = Depends(_token)) -> Any:
        """The user, only if the token came from a password login within the fresh window."""
        payload, user = await _resolve(request, token, with_user=True)
        if payload.get("fresh") is not True or utcnow() - payload.iat > fresh_window:
            raise to_http(
                InvalidTokenError(
                    "This action needs a recent login; re-enter your password.",
                    reason=Reason.NOT_FRESH,
                )
            )
        return user

    async def refresh_token_from_cookie(request: Request) -> str:
        """The refresh token from its cookie (else 401)."""
        try:
            value = transport.refresh_cookie(request)
        except AuthError as exc:
            raise to_http(exc) from None
        if value is None:
            raise to_http(
                InvalidTokenError("The refresh-token cookie is missing.", reason=Reason.MISSING)
            )
        return value

    async def logout(
        request: Request, response: Response, payload: TokenPayload = Depends(token_data)
    ) -> dict[str, str]:
        """End the current session, clear the cookies; give the JSON body to return."""
        _origin_check(request)
        client = transport.client(request)
        try:
            # One `logout` event (not `session.revoked` as well).
            await end_session(
                auth,
                payload.sub,
                payload.sid,
                None,
                EventName.LOGOUT,
                token_id=payload.jti,
                client_ip=client.ip_address,
                user_agent=client.user_agent,
                reason="logout",
            )
        except AuthError as exc:
            raise to_http(exc) from None
        transport.clear_cookies(response)
        return {"detail": "Logged out."}

    async def logout_all(
        request: Request, response: Response, payload: TokenPayload = Depends(token_data)
    ) -> dict[str, Any]:
        """End every session of the user, clear the cookies; give the JSON body to return."""
        _origin_check(request)
        client = transport.client(request)
        try:
            # One `logout_all` event (not `token.revoked` as well).
            count = await revoke_all(
                auth,
                payload.sub,
                None,
                None,
                EventName.LOGOUT_ALL,
                session_id=payload.sid,
                token_id=payload.jti,
                client_ip=client.ip_address,
                user_agent=client.user_agent,
                reason="logout_all",
            )
        except AuthError as exc:
            raise to_http(exc) from None
        transport.clear_cookies(response)
        return {"detail": "Logged out of every session.", "revoked": count}

    def _origin_check(request: Request) -> None:
        try:
            transport.check_origin(request)
        except AuthError as exc:
            raise to_http(exc) from None

    validators: dict[Callable[[TokenPayload], bool], Callable[..., Any]] = {}

    def token_validator(fn: Callable[[TokenPayload], bool]) -> Callable[..., Any]:
        """A dependency answering 403 unless `fn(payload)` is true; memoised on *fn*."""
        if fn in validators:
            return validators[fn]

        async def validate(payload: TokenPayload = Depends(token_data)) -> TokenPayload:
            if not fn(payload):
                raise to_http(AuthError("The token does not allow this.", reason=Reason.VALIDATOR))
            return payload

        validators[fn] = validate
        return validate

    scope_deps: dict[frozenset[str], Callable[..., Any]] = {}

    def require_scopes(*scopes: str) -> Callable[..., Any]:
        """A dependency answering 403 unless the token's `scopes` hold all of *scopes*."""
        wanted = frozenset(scopes)
        if wanted in scope_deps:
            return scope_deps[wanted]

        async def check(payload: TokenPayload = Depends(token_data)) -> TokenPayload:
            if not wanted.issubset(payload.scopes):
                raise to_http(
                    AuthError("The token lacks a required scope.", reason=Reason.INSUFFICIENT_SCOPE)
                )
            return payload

        scope_deps[wanted] = check
        return check

    return Dependencies(
        bearer=bearer,
        transport=transport,
        token_data=token_data,
        current_user=current_user,
        optional_user=optional_user,
        fresh_user=fresh_user,
        refresh_token_from_cookie=refresh_token_from_cookie,
        logout=logout,
        logout_all=logout_all,
        token_validator=token_validator,
        require_scopes=require_scopes,
    )
