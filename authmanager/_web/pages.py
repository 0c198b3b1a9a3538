"""Error pages for the routes a browser navigates to (a provider sign-in's start and callback).

A person, not a script, sees these errors: after the provider sent the browser back, a
JSON body would be a dead end. The page says what went wrong in one sentence (the same
message as the JSON `detail`, never a secret) and links back to the application. A client
that asks for JSON (`Accept: application/json`) still gets the library's JSON error body.
"""

from __future__ import annotations

import html

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse

from authmanager._web.http import AuthHTTPException, error_response

__all__ = ["PAGE_HEADERS", "error_page", "render_error", "wants_html"]

#: Nothing on the page may load or leak anything: the callback's URL holds a code and a state.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

_TITLES = {
    400: "Sign-in failed",
    403: "Sign-in refused",
    404: "No such sign-in provider",
    409: "Sign-in conflict",
    429: "Too many sign-in attempts",
    502: "The sign-in provider answered wrongly",
    503: "The sign-in provider is unavailable",
}

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; }}</style>
</head>
<body>
<h1>{title}</h1>
<p id="detail">{detail}</p>
<p><small>Error <code id="reason">{reason}</code> (HTTP {status}).</small></p>
<p><a href="/">Back to the application</a></p>
</body>
</html>
"""


def wants_html(request: Request) -> bool:
    """Whether the client prefers an HTML page to JSON (a browser's navigation)."""
    accept = request.headers.get("accept", "").lower()
    if "text/html" not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at == -1 or accept.find("text/html") < json_at


def error_page(exc: AuthHTTPException) -> HTMLResponse:
    """Render *exc* as a small HTML page with its status and headers."""
    title = _TITLES.get(exc.status_code, "Sign-in failed")
    body = _PAGE.format(
        title=html.escape(title),
        detail=html.escape(str(exc.detail)),
        reason=html.escape(exc.reason),
        status=exc.status_code,
    )
    headers = {**(exc.headers or {}), **PAGE_HEADERS}
    return HTMLResponse(body, status_code=exc.status_code, headers=headers)


def render_error(request: Request, exc: AuthHTTPException) -> HTMLResponse | JSONResponse:
    """An HTML page for a browser, else the JSON error body."""
    return error_page(exc) if wants_html(request) else error_response(exc)
