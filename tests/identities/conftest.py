"""Fixtures: the real OpenID provider (node, session-scoped), the services under test."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import jwt
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager.identities import IdentityLinks
from authmanager.identities.oauth import ProviderHttp
from authmanager.identities.providers import ProviderRegistry
from authmanager.identities.service import IdentityService
from authmanager.testing import CapturingHook, test_settings
from tests.identities.fake_provider import FakeState, new_key, serve
from tests.identities.support import APP_BASE, IdBase, ManagerSessions, Member, Members
from tests.identities.web import Web
from tests.oidc.launcher import ensure_installed, free_port, running_provider


@pytest.fixture(scope="session")
def oidc_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start panva's oidc-provider (`tests/oidc/provider`) on loopback; yield its issuer.

    Installs it first with `.ci/oidc.sh` when it is missing. Without Node.js the tests
    that need it are skipped, except under CI=true, where they fail.
    """
    problem = ensure_installed()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the test OpenID provider cannot run: {problem}")
        pytest.skip(problem)
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    with running_provider(f"{APP_BASE}/auth", log) as issuer:
        yield issuer


def providers_for(issuer: str) -> dict[str, Any]:
    """The provider configurations the tests use, all on the test provider."""
    return {
        "test": {"issuer": issuer, "client_id": "web", "client_secret": "web-secret"},
        "basic": {
            "issuer": issuer,
            "client_id": "basic",
            "client_secret": "basic-secret",
            "token_endpoint_auth_method": "client_secret_post",
        },
        "short": {"issuer": issuer, "client_id": "short", "client_secret": "short-secret"},
        "native": {
            "issuer": issuer,
            "client_id": "web",
            "client_secret": "web-secret",
            "native_client_ids": ["native"],
        },
        # A GitHub-style plain OAuth 2.0 configuration on the same provider's endpoints.
        "plain": {
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/me",
            "client_id": "web",
            "client_secret": "web-secret",
            "scopes": ["openid", "email", "profile"],
            "userinfo_fields": {"subject": "sub", "email": "email", "name": "name"},
        },
    }


@pytest.fixture
async def member_tables(engine: AsyncEngine) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(IdBase.metadata.create_all)
    yield
    async with engine.begin() as conn:
        await conn.execute(delete(Member))


class Stack:
    """The identity services over one test database, with what the tests inspect."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        providers: dict[str, Any],
        has_other_sign_in: Any = None,
        **overrides: Any,
    ) -> None:
        values: dict[str, Any] = {
            "oidc_providers": providers,
            "oidc_redirect_base_url": APP_BASE,
            "oidc_timeout_seconds": 2.0,
        }
        values.update(overrides)
        self.settings = test_settings(**values)
        self.events = CapturingHook()
        self.users = Members()
        self.sessions = session_factory
        self.manager: AuthManager[Member] = AuthManager(
            settings=self.settings,
            session_factory=session_factory,
            user_loader=self.users,
            hooks=[self.events],
        )
        self.database = Database(session_factory)
        self.dispatcher = HookDispatcher([self.events], timeout=2.0)
        self.registry = ProviderRegistry(
            self.settings.oidc_providers,
            http=ProviderHttp(timeout=self.settings.oidc_timeout_seconds),
            cache_seconds=self.settings.oidc_metadata_ttl_seconds,
        )
        self.service: IdentityService[Member] = IdentityService(
            settings=self.settings,
            database=self.database,
            registry=self.registry,
            users=self.users,
            sessions=ManagerSessions(self.manager),
            events=self.dispatcher,
            limiter=RateLimiter(self.settings.rate_limit_storage_url),
        )
        self.links: IdentityLinks[Member] = IdentityLinks(
            database=self.database,
            users=self.users,
            events=self.dispatcher,
            has_other_sign_in=has_other_sign_in,
        )

    async def drain(self) -> None:
        await self.dispatcher.drain()
        await self.manager.drain_events()


MakeStack = Callable[..., Stack]


@pytest.fixture
def make_stack(session_factory: async_sessionmaker[AsyncSession], member_tables: None) -> MakeStack:
    """Build the identity services; keyword arguments override settings."""

    def factory(*, providers: dict[str, Any] | None = None, **overrides: Any) -> Stack:
        return Stack(session_factory=session_factory, providers=providers or {}, **overrides)

    return factory


@pytest.fixture
def stack(make_stack: MakeStack, oidc_issuer: str) -> Stack:
    """The services with every test provider configured."""
    return make_stack(providers=providers_for(oidc_issuer))


MakeWeb = Callable[..., Web]


@pytest.fixture
async def make_web(
    session_factory: async_sessionmaker[AsyncSession], member_tables: None
) -> AsyncIterator[MakeWeb]:
    """Build a manager's app and browser-like clients; keyword arguments override settings."""
    made: list[Web] = []

    def factory(*, providers: dict[str, Any] | None = None, **settings: Any) -> Web:
        web = Web(session_factory=session_factory, oidc_providers=providers or {}, **settings)
        made.append(web)
        return web

    yield factory
    for web in made:
        await web.aclose()


@pytest.fixture
def web(make_web: MakeWeb, oidc_issuer: str) -> Web:
    """The app with every test provider configured."""
    return make_web(providers=providers_for(oidc_issuer))


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeState]:
    """The misbehaving provider of `fake_provider.py`, for the whole session."""
    yield from serve(FakeState(), free_port())


@pytest.fixture(scope="session")
def fake_key() -> tuple[Any, dict[str, Any]]:
    """The fake provider's signing key (RSA generation is slow: once per session)."""
    return new_key("key-1")


@pytest.fixture
def fake(fake_server: FakeState, fake_key: tuple[Any, dict[str, Any]]) -> Iterator[Fake]:
    """The fake provider, serving its signing key, reset after the test."""
    key, public = fake_key
    fake_server.jwks = [public]
    fake_server.jwks_hits = 0
    fake_server.id_token = None
    fake_server.token_answer = None
    yield Fake(fake_server, key)
    fake_server.jwks = []
    fake_server.id_token = None
    fake_server.token_answer = None


class Fake:
    """The fake provider's state and the key it signs ID tokens with."""

    TENANTS = (
        "good",
        "slow",
        "down",
        "garbage",
        "list",
        "mismatch",
        "badkeys",
        "tokenslow",
        "tokendown",
        "tokengarbage",
        "tokenrefused",
    )

    def __init__(self, state: FakeState, key: Any) -> None:
        self.state = state
        self.key = key

    def providers(self) -> dict[str, Any]:
        return {
            tenant: {
                "issuer": self.state.issuer(tenant),
                "client_id": "client",
                "client_secret": "client-secret",
            }
            for tenant in self.TENANTS
        }

    def claims(self, nonce: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.state.issuer("good"),
            "sub": "fake-user",
            "aud": "client",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": "fake@example.com",
            "email_verified": True,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(
        self, claims: dict[str, Any], *, key: Any = None, kid: str = "key-1", **headers: Any
    ) -> str:
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid, **headers}
        )
