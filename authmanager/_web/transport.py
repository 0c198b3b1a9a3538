"""HTTP transport: bearer header, refresh cookie, client address and the CSRF check."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fastapi import Request, Response
from fastapi.security import OAuth2PasswordBearer

from authmanager._core.settings import AuthSettings
from authmanager._core.text import clean, same
from authmanager._core.types import ClientInfo
from authmanager._web.http import to_http
from authmanager.exceptions import AuthError, InvalidTokenError, Reason

__all__ = [
    "BearerScheme",
    "Transport",
]

DEVICE_HEADER = "X-Device-Id"

#: Called with each refused request and its error before the refusal is raised.
OnReject = Callable[[Request, AuthError], None]


class BearerScheme(OAuth2PasswordBearer):
    """FastAPI's OAuth2 password scheme (for OpenAPI), with a stricter header reader.

    Returns the token or None; refuses a request with two `Authorization` headers or
    a malformed one. Never reads a token from the query string. Each refusal is
    passed to `on_reject` (set by the manager, which reports it) before it is raised.
    """

    def __init__(
        self,
        *,
        tokenUrl: str,
        refreshUrl: str,
        scopes: dict[str, str] | None = None,
        on_reject: OnReject | None = None,
    ) -> None:
        super().__init__(
            tokenUrl=tokenUrl, refreshUrl=refreshUrl, scopes=scopes or {}, auto_error=False
        )
        self.on_reject = on_reject

    @property
    def offered_scopes(self) -> dict[str, str]:
        """The scopes of the OpenAPI password flow (Swagger's Authorize), to add to."""
        flows: Any = self.model.flows  # type: ignore[attr-defined] # fastapi.openapi.models.OAuth2
        scopes: dict[str, str] = flows.password.scopes
        return scopes

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        """Return the bearer token of *request*, or None; refusals become HTTP 401."""
        try:
            return self.read(request)
        except AuthError as exc:
            raise to_http(exc) from None

    def read(self, request: Request) -> str | None:
        """Return the bearer token of *request*, or None when there is none.

        Raises:
            InvalidTokenError: two `Authorization` headers, or a malformed one.
        """
        values = request.headers.getlist("authorization")
        if not values:
            return None
        if len(values) > 1:
            raise self._refused(
                request,
                InvalidTokenError(
                    "Two Authorization headers were sent.", reason=Reason.DUPLICATE_CREDENTIALS
                ),
            )
        scheme, _, token = values[0].strip().partition(" ")
        token = token.strip()
        # "DPoP" is for DPoP-bound tokens (RFC 9449 §7.1), checked by `_binding.py`.
        if scheme.lower() not in {"bearer", "dpop"} or not token or " " in token:
            raise self._refused(
                request,
                InvalidTokenError(
                    "The Authorization header must be 'Bearer <token>' or 'DPoP <token>'.",
                    reason=Reason.MALFORMED,
                ),
            )
        return token

    def _refused(self, request: Request, exc: AuthError) -> AuthError:
        if self.on_reject is not None:
            self.on_reject(request, exc)
        return exc


@lru_cache(maxsize=64)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in net for net in networks)


class Transport:
    """Reads and writes the HTTP side of authentication for one manager's settings.

    Every refusal (CSRF, duplicated credentials) is passed to *on_reject* before it is
    raised, so the manager can report requests that never reach token verification.
    """

    def __init__(self, settings: AuthSettings, on_reject: OnReject | None = None) -> None:
        self.settings = settings
        self.on_reject = on_reject
        self._proxies = _networks(tuple(settings.trusted_proxies))
        self._origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins)
        self.cookie_path = settings.effective_cookie_path

    # --- who is calling --------------------------------------------------------------
    def client_ip(self, request: Request) -> str | None:
        """The client's address; `X-Forwarded-For` only behind a trusted proxy."""
        peer = request.client.host if request.client else None
        if peer is None or not self._proxies or not _in(peer, self._proxies):
            return peer
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        # Walk from the nearest hop: the first address not a trusted proxy is the client.
        # A hop that is not an address was written by someone beyond the proxies we trust:
        # the client is then the last trusted hop (never text a client chose).
        nearest = peer
        for hop in reversed(hops):
            ip = _ip(hop)
            if ip is None:
                return nearest
            if not any(ip in net for net in self._proxies):
                return str(ip)
            nearest = str(ip)
        return nearest

    def client(self, request: Request) -> ClientInfo:
        """Return the `ClientInfo` of *request*."""
        return ClientInfo(
            ip_address=self.client_ip(request),
            user_agent=clean(request.headers.get("user-agent"), 512),
            device_id=clean(request.headers.get(DEVICE_HEADER), 128),
        )

    # --- the refresh cookie ----------------------------------------------------------
    def _cookie_values(self, request: Request, name: str) -> list[str]:
        values: list[str] = []
        for header in request.headers.getlist("cookie"):
            for part in header.split(";"):
                key, sep, value = part.strip().partition("=")
                if sep and key.strip() == name:
                    values.append(value.strip().strip('"'))
        return values

    def refresh_cookie(self, request: Request) -> str | None:
        """Return the refresh token from its cookie, or None; refuse two different ones."""
        values = set(self._cookie_values(request, self.settings.cookie_name))
        if len(values) > 1:
            raise self.refused(
                request,
                InvalidTokenError(
                    "Two refresh-token cookies were sent.", reason=Reason.DUPLICATE_CREDENTIALS
                ),
            )
        value = values.pop() if values else ""
        return value or None

    def set_refresh_cookie(self, response: Response, token: str, max_age: int) -> str:
        """Set the refresh cookie and a fresh CSRF cookie; return the CSRF token."""
        s = self.settings
        response.set_cookie(
            s.cookie_name,
            token,
            max_age=max_age,
            path=self.cookie_path,
            domain=s.cookie_domain,
            secure=s.cookie_secure,
            httponly=True,
            samesite=s.cookie_samesite,
        )
        csrf = secrets.token_urlsafe(32)
        # Readable by the page's script, which echoes it in the CSRF header.
        response.set_cookie(
            s.csrf_cookie_name,
            csrf,
            max_age=max_age,
            path="/",
            domain=s.cookie_domain,
            secure=s.cookie_secure,
            httponly=False,
            samesite=s.cookie_samesite,
        )
        return csrf

    def clear_cookies(self, response: Response) -> None:
        """Delete the refresh and CSRF cookies."""
        s = self.settings
        response.delete_cookie(
            s.cookie_name,
            path=self.cookie_path,
            domain=s.cookie_domain,
            secure=s.cookie_secure,
            httponly=True,
            samesite=s.cookie_samesite,
        )
        response.delete_cookie(
            s.csrf_cookie_name,
            path="/",
            domain=s.cookie_domain,
            secure=s.cookie_secure,
            httponly=False,
            samesite=s.cookie_samesite,
        )

    # --- CSRF ------------------------------------------------------------------------
    def check_origin(self, request: Request) -> None:
        """Refuse a request a browser sent from another site (Fetch metadata, Origin).

        Applied to every route that signs someone in or sets or reads the refresh
        cookie, wherever the request's token travels: a cross-site form that posts the
        attacker's own token would otherwise sign the victim's browser in (login CSRF).
        A request with neither header comes from no browser and passes.
        """
        if not self.settings.csrf_protection:
            return
        origins = request.headers.getlist("origin")
        if origins:
            if not all(self._origin_allowed(request, origin) for origin in origins):
                raise self.refused(request, _csrf("The request comes from another origin."))
            return
        sites = {site.strip().lower() for site in request.headers.getlist("sec-fetch-site")}
        if "cross-site" in sites:
            raise self.refused(request, _csrf("The request comes from another site."))

    def check_navigation(self, request: Request) -> None:
        """`check_origin` for a route that another site's redirect reaches by design.

        An OAuth 2.0 redirection endpoint (`/oidc/{provider}/callback`) is reached by a
        top-level navigation from the provider's site: `Sec-Fetch-Site: cross-site`
        and no `Origin`, which `check_origin` would refuse for every real sign-in. Its
        login-CSRF defence is the `state` bound to the browser's flow cookie. What no
        provider redirect is, is refused as `check_origin` refuses it: a request naming
        another origin (or `null`), and a cross-site request that is not a top-level
        navigation (a script's fetch, a frame, an image).
        """
        if not self.settings.csrf_protection:
            return
        if request.headers.getlist("origin"):
            self.check_origin(request)
            return
        if "cross-site" not in _values(request, "sec-fetch-site"):
            return
        modes, dests = _values(request, "sec-fetch-mode"), _values(request, "sec-fetch-dest")
        if modes - {"navigate"} or dests - {"document"}:
            raise self.refused(request, _csrf("The request comes from another site."))

    def _origin_allowed(self, request: Request, origin: str) -> bool:
        # Not a secret: a plain comparison. An origin with bytes that are not ASCII (or
        # "null", from a sandboxed frame or a redirect) matches no allowed origin.
        origin = origin.strip().rstrip("/").lower()
        if origin in self._origins:
            return True
        own = f"{request.url.scheme}://{request.url.netloc}".lower()
        return origin == own

    def check_double_submit(self, request: Request) -> None:
        """Require the CSRF header to echo the CSRF cookie (double-submit).

        A request whose browser says `Sec-Fetch-Site: same-origin` needs no token: no
        page of another origin can send that header (a forbidden header name of the
        Fetch standard), and a non-browser client that forges it has no victim's cookie
        to ride; this is the check Go's `http.CrossOriginProtection` relies on alone.
        Same-origin pages that cannot read the cookie, Swagger UI among them, then
        refresh as they are. Browsers without Fetch Metadata, and allowed origins
        (`same-site`, `cross-site`), still need the token.
        """
        if not self.settings.csrf_protection:
            return
        if request.headers.get("sec-fetch-site", "").strip().lower() == "same-origin":
            return
        cookies = set(self._cookie_values(request, self.settings.csrf_cookie_name))
        header = request.headers.get(self.settings.csrf_header_name, "")
        if len(cookies) != 1 or not header:
            raise self.refused(
                request,
                _csrf(
                    "The CSRF token is missing; send the csrf cookie's value in "
                    f"the {self.settings.csrf_header_name} header."
                ),
            )
        if not same(cookies.pop(), header):
            raise self.refused(request, _csrf("The CSRF token does not match."))

    def refused(self, request: Request, exc: AuthError) -> AuthError:
        """Pass *exc*, refusing *request*, to `on_reject`; return it for the caller to raise."""
        if self.on_reject is not None:
            self.on_reject(request, exc)
        return exc


def _values(request: Request, header: str) -> set[str]:
    """The values of a Fetch metadata *header*, lower-cased (empty when absent)."""
    return {value.strip().lower() for value in request.headers.getlist(header)}


def _csrf(message: str) -> AuthError:
    return AuthError(message, reason=Reason.CSRF)
