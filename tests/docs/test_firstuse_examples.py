"""The docs examples added for first use: the quick start's sign-up and the Authlib recipe."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import authlib.deprecate
import httpx2
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, SQLAlchemyUserLoader
from tests.conftest import bearer, client_for
from tests.support.docs import Load, add_user, create_tables
from tests.support.tokens import claims

PASSWORD = "correct horse battery staple"
EMAIL = "ada@example.com"
BASE = "https://testserver"


async def test_quickstart_signup_normalises_and_refuses_a_taken_email(
    load_sqlite: Load, tmp_path: Path
) -> None:
    """The address is trimmed and lower-cased; the same one again is 409, not a 500."""
    qs = load_sqlite("quickstart_1")
    async with LifespanManager(qs.app), client_for(qs.app) as client:
        first = await client.post(
            "/signup", json={"email": "  Ada@Example.COM ", "password": PASSWORD}
        )
        again = await client.post("/signup", json={"email": EMAIL, "password": PASSWORD})
        bad = await client.post("/signup", json={"email": "not an address", "password": PASSWORD})
        login = await client.post(
            "/auth/login", data={"username": "ADA@example.com", "password": PASSWORD}
        )
        me = await client.get("/me", headers=bearer(login.json()["access_token"]))
        health = await client.get("/auth/health")
    assert first.status_code == 201, first.text
    assert again.status_code == 409
    assert again.json() == {"detail": "This email is already registered."}
    assert bad.status_code == 422
    assert me.json() == {"id": first.json()["id"], "email": EMAIL}
    assert health.json() == {"status": "ok"}


def _load_recipe(load: Load) -> Any:
    with warnings.catch_warnings():
        # Authlib >= 1.9.10 prefers the `httpx2` fork and warns when it falls back to httpx.
        warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
        return load("oauth_1")


async def test_oauth_recipe_password_grant_and_automatic_refresh(load: Load) -> None:
    """Authlib signs in with the password grant, then refreshes by itself at token_endpoint."""
    from app_models import User

    mod = _load_recipe(load)
    assert mod.settings.refresh_token_transport == "body"
    engine = create_async_engine(os.environ["DATABASE_URL"])
    mod.engine, mod.sessions = engine, async_sessionmaker(engine, expire_on_commit=False)
    # One-minute tokens are "expired" for Authlib at once (it refreshes 60 s early).
    settings = mod.settings.model_copy(update={"access_token_expire_minutes": 1})
    mod.auth = AuthManager(
        settings=settings, session_factory=mod.sessions, user_loader=SQLAlchemyUserLoader(User)
    )
    await create_tables(mod)
    await add_user(mod)
    app = FastAPI()
    mod.auth.install(app)

    @app.get("/me")
    async def me(user: Any = Depends(mod.auth.current_user)) -> dict[str, Any]:
        return {"email": user.email}

    # Authlib is built on httpx2 when it is installed (the test extra has it, for the
    # `oidc` extra): the transport must be httpx2's.
    async with mod.api_client(BASE, transport=httpx2.ASGITransport(app=app)) as client:
        await mod.sign_in(client, BASE, EMAIL, PASSWORD)
        signed_in = dict(client.token)
        first = await client.get("/me")
        second = await client.get("/me")
    assert (first.json(), second.json()) == ({"email": EMAIL}, {"email": EMAIL})
    refresh_tokens = [signed_in["refresh_token"]] + [t["refresh_token"] for t in mod.saved]
    assert len(mod.saved) == 2  # one automatic refresh before each request
    assert len(set(refresh_tokens)) == 3  # each refresh rotated the refresh token
    sessions = {claims(t["access_token"])["sid"] for t in [signed_in, *mod.saved]}
    assert len(sessions) == 1  # one login session throughout
    spent = await mod.auth.verify_token(refresh_tokens[-1], token_type="refresh")
    assert spent.sid in sessions
