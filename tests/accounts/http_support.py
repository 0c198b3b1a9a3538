"""Support of the account HTTP tests: the real manager with a sender, its app and a client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager.accounts import Purpose
from authmanager.accounts.tables import action_tokens
from authmanager.testing import CapturingHook, CapturingSender
from tests.accounts.support import AccountUsers
from tests.app import User

#: What a byte-for-byte comparison leaves out: the one header that names the moment.
VARYING_HEADERS = frozenset({"date"})


@dataclass
class AccountApp:
    """A manager built with `sender=`, the test app around it, and an HTTPS client."""

    manager: AuthManager[User]
    client: httpx.AsyncClient
    sender: Any
    events: CapturingHook
    factory: async_sessionmaker[AsyncSession]

    @property
    def captured(self) -> CapturingSender:
        assert isinstance(self.sender, CapturingSender)
        return self.sender

    async def settle(self) -> None:
        """Let every background job (token, message) and every event finish."""
        await self.manager.drain_events()

    async def token(self, purpose: Purpose) -> str:
        """Settle, then return the token of the last message of *purpose*."""
        await self.settle()
        token = self.captured.last(purpose).token
        assert token is not None
        return token

    async def user(self, email: str) -> User | None:
        async with self.factory() as db:
            return await AccountUsers().get_user_by_login(db, email)

    async def token_rows(self, **where: Any) -> list[Any]:
        async with self.factory() as db:
            return list((await db.execute(select(action_tokens).filter_by(**where))).all())

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.post(f"/auth{path}", **kwargs)

    async def login(self, email: str, password: str, **kwargs: Any) -> httpx.Response:
        return await self.post("/login", data={"username": email, "password": password}, **kwargs)

    async def access_token(self, email: str, password: str) -> str:
        response = await self.login(email, password)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


MakeAccountApp = Callable[..., AccountApp]


def same_bytes(a: httpx.Response, b: httpx.Response) -> None:
    """Assert two answers are equal byte for byte: status, body, and headers but `Date`."""
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert headers_of(a) == headers_of(b)


def headers_of(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    """The raw header lines, in order, without the ones that name the moment."""
    return [
        (name, value)
        for name, value in response.headers.raw
        if name.decode("latin-1").lower() not in VARYING_HEADERS
    ]


@contextmanager
def statements(app: AccountApp) -> Iterator[list[str]]:
    """Record the SQL statements run on the test engine while the block runs."""
    seen: list[str] = []
    engine = app.factory.kw["bind"].sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
