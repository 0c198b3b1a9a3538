"""The HTTP side of the identity tests: a manager's app, a browser-like client, and flows.

`Web` drives the library's routes as a browser does (cookies kept per client), and the
test provider's own pages with `sign_in_at_provider`. Every client speaks https to
`https://app.test`, the base the test provider's client registrations redirect to.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager.identities.tables import identities, identity_replays, oidc_flows
from authmanager.testing import CapturingHook, test_settings
from tests.identities.support import APP_BASE, Callback, Member, Members, sign_in_at_provider

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


def make_app(manager: AuthManager[Member]) -> FastAPI:
    """The application: the router at /auth and /me."""
    app = FastAPI()
    app.include_router(manager.router, prefix="/auth")

    @app.get("/me")
    async def me(user: Member = Depends(manager.current_user)) -> dict[str, Any]:
        return {"id": user.id, "email": user.email}

    return app


def query_of(url: str) -> dict[str, str]:
    """The query parameters of *url* (first value of each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Web:
    """One manager's app, reached by browser-like clients (each with its own cookies)."""

    def __init__(
        self, *, session_factory: async_sessionmaker[AsyncSession], **settings: Any
    ) -> None:
        self.settings = test_settings(oidc_redirect_base_url=APP_BASE, **settings)
        self.events = CapturingHook()
        self.users = Members()
        self.sessions = session_factory
        self.manager: AuthManager[Member] = AuthManager(
            settings=self.settings,
            session_factory=session_factory,
            user_loader=self.users,
            hooks=[self.events],
        )
        self.app = make_app(self.manager)
        self._clients: list[httpx.AsyncClient] = []
        self.client = self.browser()

    def browser(self, **headers: str) -> httpx.AsyncClient:
        """A new client (a browser with an empty cookie jar) on the app."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("203.0.113.9", 50000)),
            base_url=APP_BASE,
            headers={"User-Agent": "pytest-browser", **headers},
        )
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        await self.manager.aclose()

    # --- the code flow ---------------------------------------------------------------
    async def authorize(
        self,
        provider: str = "test",
        *,
        next: str | None = "/home",
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """GET /auth/oidc/{provider}/authorize (not followed)."""
        params = {} if next is None else {"next": next}
        return await (client or self.client).get(
            f"/auth/oidc/{provider}/authorize", params=params, headers=HTML
        )

    async def at_provider(
        self,
        provider: str = "test",
        *,
        login: str = "alice",
        next: str | None = "/home",
        client: httpx.AsyncClient | None = None,
    ) -> Callback:
        """Start a flow and sign in at the provider's pages; return its redirect back."""
        started = await self.authorize(provider, next=next, client=client)
        assert started.status_code == 302, started.text
        return await sign_in_at_provider(started.headers["location"], login=login)

    async def callback(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """GET the callback URL the provider redirected to, as the browser would."""
        return await (client or self.client).get(url, headers=headers or HTML)

    async def sign_in(
        self,
        provider: str = "test",
        *,
        login: str = "alice",
        next: str | None = "/home",
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """The whole browser flow; return the callback's answer."""
        back = await self.at_provider(provider, login=login, next=next, client=client)
        return await self.callback(back.url, client=client)

    async def access_token(self, client: httpx.AsyncClient | None = None) -> str:
        """Refresh with the browser's cookie, as the page's script does after a sign-in."""
        client = client or self.client
        answer = await client.post(
            "/auth/refresh", headers={"X-CSRF-Token": client.cookies.get("csrf_token") or ""}
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        assert isinstance(token, str)
        return token

    # --- what is stored --------------------------------------------------------------
    async def count(self, table: Any) -> int:
        async with self.sessions() as session:
            return int(
                (await session.execute(select(func.count()).select_from(table))).scalar_one()
            )

    async def stored(self) -> dict[str, int]:
        """Rows of links, flows, native nonces and users: what a refusal must not change."""
        return {
            "identities": await self.count(identities),
            "flows": await self.count(oidc_flows),
            "replays": await self.count(identity_replays),
            "members": await self.count(Member.__table__),
        }
