"""HTTP helpers: clients on an app, the login form, auth headers, cookies, a logged-in client."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.factories import PASSWORD
from tests.support.tokens import claims

#: The `client_from` fixture: `(manager, ip="203.0.113.7")`, a client whose requests come from *ip*.
Client = Callable[..., httpx.AsyncClient]


def client_for(app: Any) -> httpx.AsyncClient:
    """An HTTPS client on *app* (https keeps Secure cookies)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def login(
    client: httpx.AsyncClient,
    email: str = "alice@example.com",
    password: str = PASSWORD,
    **kwargs: Any,
) -> httpx.Response:
    """POST the password form to /auth/login and return the response."""
    return await client.post(
        "/auth/login", data={"username": email, "password": password}, **kwargs
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """The double-submit header for a cookie refresh."""
    return {"X-CSRF-Token": client.cookies.get("csrf_token") or ""}


def free_port() -> int:
    """A free TCP port on the loopback interface, for a real server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class SetCookie:
    """One parsed `Set-Cookie` header."""

    name: str
    value: str
    attrs: dict[str, str]
    flags: frozenset[str]


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    """The `Set-Cookie` headers of *response*, by cookie name (attribute names lower-case)."""
    found: dict[str, SetCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *rest = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        attrs: dict[str, str] = {}
        flags: set[str] = set()
        for part in rest:
            key, sep, val = part.partition("=")
            if sep:
                attrs[key.lower()] = val
            else:
                flags.add(key.lower())
        found[name] = SetCookie(name, value.strip('"'), attrs, frozenset(flags))
    return found


@dataclass
class Session:
    """A logged-in client: its access token and the login's claims."""

    access: str
    sid: str
    jti: str
    refresh_jti: str | None


async def logged_in(client: httpx.AsyncClient, email: str = "alice@example.com") -> Session:
    """Log *client* in (cookie transport) and return the session it got."""
    response = await login(client, email)
    assert response.status_code == 200, response.text
    access = response.json()["access_token"]
    refresh = client.cookies.get("refresh_token") or response.json().get("refresh_token")
    return Session(
        access=access,
        sid=claims(access)["sid"],
        jti=claims(access)["jti"],
        refresh_jti=claims(refresh)["jti"] if refresh else None,
    )
