"""The demo pointed at a provider by settings alone: its buttons, and a sign-up through it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from authmanager.demo import create_app
from authmanager.demo.app import DemoUser
from authmanager.testing import test_settings
from tests.identities.support import APP_BASE, sign_in_at_provider

PASSWORD = "demo password for tests"


@pytest.fixture
async def demo_users(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker]:  # type: ignore[type-arg]
    """The demo's user rows, emptied after the test (the token tables are the engine's)."""
    factory = async_sessionmaker(engine, expire_on_commit=False)
    yield factory
    async with factory() as session, session.begin():
        await session.execute(delete(DemoUser))


async def test_demo_without_providers_shows_no_buttons(database: str) -> None:
    app = create_app(database, password=PASSWORD, settings=test_settings(cookie_secure=False))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://demo.test"
        ) as client,
    ):
        page = await client.get("/")
    assert page.status_code == 200
    assert 'class="provider"' not in page.text
    assert "{{PROVIDERS}}" not in page.text


async def test_demo_signs_up_with_the_provider(
    database: str,
    oidc_issuer: str,
    demo_users: async_sessionmaker,  # type: ignore[type-arg]
) -> None:
    """Its page links to the provider; the callback makes an account without a password."""
    settings = test_settings(
        oidc_providers={
            "test": {"issuer": oidc_issuer, "client_id": "web", "client_secret": "web-secret"}
        },
        oidc_redirect_base_url=APP_BASE,
    )
    app = create_app(database, password=PASSWORD, settings=settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_BASE) as client,
    ):
        page = await client.get("/")
        href = "/auth/oidc/test/authorize?next=%2F%3Fsigned_in%3Dtest"
        started = await client.get(href)
        back = await sign_in_at_provider(started.headers["location"], login="alice")
        done = await client.get(back.url)
        refreshed = await client.post(
            "/auth/refresh", headers={"X-CSRF-Token": client.cookies.get("csrf_token") or ""}
        )
        token = refreshed.json()["access_token"]
        me = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        password_login = await client.post(
            "/auth/login", data={"username": "alice@example.com", "password": "any password"}
        )
    async with demo_users() as session:
        alice = (
            await session.execute(select(DemoUser).where(DemoUser.email == "alice@example.com"))
        ).scalar_one()

    assert '<a class="provider" id="provider-test"' in page.text
    assert f'href="{href}"' in page.text
    assert ">Sign in with test</a>" in page.text
    assert started.status_code == 302
    assert done.status_code == 303
    assert done.headers["location"] == "/?signed_in=test"
    assert me.json()["email"] == "alice@example.com"
    assert alice.hashed_password is None
    assert password_login.status_code == 401  # no password: the dummy hash answers
