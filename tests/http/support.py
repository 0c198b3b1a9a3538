"""Helpers for the HTTP tests: read the token tables, decode tokens, parse cookies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager._core.models import sessions, tokens
from tests.conftest import bearer, csrf_headers, login


def claims(token: str) -> dict[str, Any]:
    """The claims of *token*, unverified (the tests check them against the database)."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


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


class Tables:
    """Reads the token store's rows, to assert the database state behind an answer."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory

    async def session(self, sid: str) -> Any:
        async with self._factory() as db:
            return (await db.execute(select(sessions).where(sessions.c.id == sid))).one()

    async def token(self, jti: str) -> Any:
        async with self._factory() as db:
            return (await db.execute(select(tokens).where(tokens.c.jti == jti))).one()

    async def live_sessions(self, user_id: str) -> list[str]:
        async with self._factory() as db:
            rows = await db.execute(
                select(sessions.c.id).where(
                    sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)
                )
            )
            return sorted(r.id for r in rows)


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


__all__ = [
    "SetCookie",
    "Tables",
    "bearer",
    "claims",
    "csrf_headers",
    "logged_in",
    "set_cookies",
]
