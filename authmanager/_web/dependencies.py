"""The FastAPI dependencies of one manager, built once, as closures over its services.

FastAPI matches `dependency_overrides` and its per-request cache by callable identity,
so each dependency is created once and kept on the manager.
"""

# No `from __future__ import annotations` here: FastAPI reads these signatures at runtime.

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Generic, TypeVar

from fastapi import Depends, Request, Response, Security
from fastapi.security import SecurityScopes

from authmanager._core.clock import utcnow
from authmanager._core.settings import AuthSettings
from authmanager._core.tokens import TokenPayload
from authmanager._services.binding import Binder
from authmanager._services.rejections import RejectionReporter
from authmanager._services.revocation import RevocationService
from authmanager._services.verifier import Verifier
from authmanager._web.http import as_http, to_http
from authmanager._web.transport import BearerScheme, Transport
from authmanager.exceptions import AuthError, InvalidTokenError, Reason
from authmanager.hooks import EventName

__all__ = ["Dependencies", "PayloadDependency", "UserDependency"]

UserT = TypeVar("UserT")
#: A dependency that gives the verified payload.
PayloadDependency = Callable[..., Awaitable[TokenPayload]]
#: A dependency that gives the user of type *UserT*.
UserDependency = Callable[..., Awaitable[UserT]]


class Dependencies(Generic[UserT]):
    """Every dependency of one manager; each attribute is built once, in `__init__`.

    Args:
        settings: The manager's settings (prefix, fresh window, CSRF).
        verifier: The one verification path.
        binder: DPoP proof, device and network checks of each request.
        revocations: Ends sessions for `logout` and `logout_all`.
        reporter: Reports refusals that happen before token verification.
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        verifier: Verifier[UserT],
        binder: Binder,
        revocations: RevocationService,
        reporter: RejectionReporter,
    ) -> None:
        self._verifier = verifier
        self._binder = binder
        self._revocations = revocations
        self._reporter = reporter
        self._fresh_window = timedelta(minutes=settings.fresh_token_minutes)
        self._state_key = f"authmanager_{id(self)}"
        self.bearer = BearerScheme(
            tokenUrl=f"{settings.route_prefix}/login",
            refreshUrl=f"{settings.route_prefix}/refresh",
            scopes=dict(settings.openapi_scopes),
            on_reject=self._report,
        )
        self.transport = Transport(settings, on_reject=self._report)
        self._validators: dict[Callable[[TokenPayload], bool], PayloadDependency] = {}
        self._scope_checks: dict[frozenset[str], PayloadDependency] = {}
        self._token = self._build_token()
        self.token_data: PayloadDependency = self._build_token_data()
        self.live_token_data: PayloadDependency = self._build_live_token_data()
        self.current_user: UserDependency[UserT] = self._build_current_user()
        self.optional_user: UserDependency[UserT | None] = self._build_optional_user()
        self.fresh_user: UserDependency[UserT] = self._build_fresh_user()
        self.refresh_token_from_cookie: Callable[..., Awaitable[str]] = self._build_cookie()
        self.logout: Callable[..., Awaitable[dict[str, str]]] = self._build_logout()
        self.logout_all: Callable[..., Awaitable[dict[str, Any]]] = self._build_logout_all()

    def _report(self, request: Request, exc: AuthError) -> None:
        # Refusals before token verification; a missing token is anonymous traffic.
        if exc.reason is not Reason.MISSING:
            self._reporter.report(exc, None, self.transport.client(request))

    async def _resolve(
        self, request: Request, token: str | None, *, with_user: bool
    ) -> tuple[TokenPayload, Any]:
        """Verify the request's token once per request (and load its user once)."""
        cached = getattr(request.state, self._state_key, None)
        if cached is not None and (cached[1] is not None or not with_user):
            found: tuple[TokenPayload, Any] = cached
            return found
        with as_http():
            if token is None:
                raise InvalidTokenError("Not authenticated.", reason=Reason.MISSING)
            client = self.transport.client(request)
            if with_user:
                payload, user = await self._verifier.verify_with_user(token, client)
            else:
                payload, user = await self._verifier.verify(token, client=client), None
            if cached is None:  # DPoP proof, device and network: once per request
                await self._binder.check_request(request, payload, token, client)
        setattr(request.state, self._state_key, (payload, user))
        return payload, user

    def _build_token(self) -> Callable[..., Awaitable[str | None]]:
        bearer = self.bearer

        # Depends(bearer) puts the OAuth2 scheme in the OpenAPI document (Swagger's Authorize).
        async def token(value: str | None = Depends(bearer)) -> str | None:
            return value

        return token

    def _build_token_data(self) -> PayloadDependency:
        resolve, token_dep = self._resolve, self._token

        async def token_data(
            request: Request,
            security_scopes: SecurityScopes,
            token: str | None = Depends(token_dep),
        ) -> TokenPayload:
            """The verified payload of the request's bearer access token (else 401).

            Used as `Security(auth.token_data, scopes=[...])`, it also answers 403 unless
            the token's `scopes` hold every scope named.
            """
            payload, _ = await resolve(request, token, with_user=False)
            _require(payload, security_scopes)
            return payload

        return token_data

    def _build_live_token_data(self) -> PayloadDependency:
        resolve, token_dep = self._resolve, self._token

        async def live_token_data(
            request: Request, token: str | None = Depends(token_dep)
        ) -> TokenPayload:
            """The payload, only while the loader still reports its user live (else 401).

            For the library's own routes that act for the user (sessions): the user is
            read on the same connection as the token's state.
            """
            payload, _ = await resolve(request, token, with_user=True)
            return payload

        return live_token_data

    def _build_current_user(self) -> UserDependency[UserT]:
        resolve, token_dep = self._resolve, self._token

        async def current_user(
            request: Request,
            security_scopes: SecurityScopes,
            token: str | None = Depends(token_dep),
        ) -> Any:
            """The user of the request's bearer access token (else 401).

            Used as `Security(auth.current_user, scopes=[...])`, it also answers 403
            unless the token's `scopes` hold every scope named.
            """
            payload, user = await resolve(request, token, with_user=True)
            _require(payload, security_scopes)
            return user

        return current_user

    def _build_optional_user(self) -> UserDependency[UserT | None]:
        resolve, token_dep = self._resolve, self._token

        async def optional_user(
            request: Request,
            security_scopes: SecurityScopes,
            token: str | None = Depends(token_dep),
        ) -> Any:
            """The user, or None without credentials; a bad token is still 401."""
            if token is None:
                return None
            payload, user = await resolve(request, token, with_user=True)
            _require(payload, security_scopes)
            return user

        return optional_user

    def _build_fresh_user(self) -> UserDependency[UserT]:
        resolve, token_dep, window = self._resolve, self._token, self._fresh_window

        async def fresh_user(
            request: Request,
            security_scopes: SecurityScopes,
            token: str | None = Depends(token_dep),
        ) -> Any:
            """The user, only if the token came from a sign-in within the fresh window."""
            payload, user = await resolve(request, token, with_user=True)
            _require(payload, security_scopes)
            if payload.get("fresh") is not True or utcnow() - payload.iat > window:
                raise to_http(
                    InvalidTokenError(
                        "This action needs a recent login; re-enter your password.",
                        reason=Reason.NOT_FRESH,
                    )
                )
            return user

        return fresh_user

    def _build_cookie(self) -> Callable[..., Awaitable[str]]:
        transport = self.transport

        async def refresh_token_from_cookie(request: Request) -> str:
            """The refresh token from its cookie (else 401); 403 for a cross-site request."""
            with as_http():
                # Whatever the application does with it, a request from another site
                # must not reach the cookie (CSRF).
                transport.check_origin(request)
                value = transport.refresh_cookie(request)
                if value is None:
                    raise InvalidTokenError(
                        "The refresh-token cookie is missing.", reason=Reason.MISSING
                    )
            return value

        return refresh_token_from_cookie

    def _build_logout(self) -> Callable[..., Awaitable[dict[str, str]]]:
        transport, revocations, token_data = self.transport, self._revocations, self.token_data

        async def logout(
            request: Request, response: Response, payload: TokenPayload = Depends(token_data)
        ) -> dict[str, str]:
            """End the current session, clear the cookies; give the JSON body to return."""
            client = transport.client(request)
            with as_http():
                transport.check_origin(request)
                # One `logout` event (not `session.revoked` as well).
                await revocations.end_session(
                    payload.sub,
                    payload.sid,
                    None,
                    EventName.LOGOUT,
                    token_id=payload.jti,
                    client_ip=client.ip_address,
                    user_agent=client.user_agent,
                    reason="logout",
                )
            transport.clear_cookies(response)
            return {"detail": "Logged out."}

        return logout

    def _build_logout_all(self) -> Callable[..., Awaitable[dict[str, Any]]]:
        transport, revocations, token_data = self.transport, self._revocations, self.token_data

        async def logout_all(
            request: Request, response: Response, payload: TokenPayload = Depends(token_data)
        ) -> dict[str, Any]:
            """End every session of the user, clear the cookies; give the JSON body to return."""
            client = transport.client(request)
            with as_http():
                transport.check_origin(request)
                # One `logout_all` event (not `token.revoked` as well).
                count = await revocations.revoke_all(
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
            transport.clear_cookies(response)
            return {"detail": "Logged out of every session.", "revoked": count}

        return logout_all

    def token_validator(self, fn: Callable[[TokenPayload], bool]) -> PayloadDependency:
        """A dependency answering 403 unless `fn(payload)` is true; memoised on *fn*."""
        if fn in self._validators:
            return self._validators[fn]
        token_data = self.token_data

        async def validate(payload: TokenPayload = Depends(token_data)) -> TokenPayload:
            if not fn(payload):
                raise to_http(AuthError("The token does not allow this.", reason=Reason.VALIDATOR))
            return payload

        self._validators[fn] = validate
        return validate

    def require_scopes(self, *scopes: str) -> PayloadDependency:
        """A dependency answering 403 unless the token's `scopes` hold all of *scopes*.

        Memoised on the set of scopes. The scopes appear in the OpenAPI document (the
        route's security requirement and the scheme's list), so Swagger's Authorize
        dialog offers them: it is `Security(token_data, scopes=[...])` under a name.
        """
        wanted = frozenset(scopes)
        if wanted in self._scope_checks:
            return self._scope_checks[wanted]
        offered = self.bearer.offered_scopes
        for scope in sorted(wanted):
            offered.setdefault(scope, f"Required by routes that use require_scopes({scope!r}).")
        token_data, named = self.token_data, sorted(wanted)

        async def check(
            payload: TokenPayload = Security(token_data, scopes=named),
        ) -> TokenPayload:
            return payload

        self._scope_checks[wanted] = check
        return check


def _require(payload: TokenPayload, security_scopes: SecurityScopes) -> None:
    """403 `insufficient_scope` unless *payload* holds every scope of *security_scopes*."""
    if security_scopes.scopes and not set(security_scopes.scopes).issubset(payload.scopes):
        raise to_http(
            AuthError("The token lacks a required scope.", reason=Reason.INSUFFICIENT_SCOPE)
        )
