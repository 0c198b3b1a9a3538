"""The provider guide's examples (docs/examples/oidc_*.py) run, against the real test provider."""

from __future__ import annotations

import importlib.util
import json
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import AuthSettings, metadata
from authmanager.identities.tables import identities
from authmanager.testing import TEST_SECRET
from tests.identities.support import APP_BASE, native_id_token, sign_in_at_provider

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
Load = Callable[[str], ModuleType]


@pytest.fixture
async def load(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database: str,
    engine: AsyncEngine,
    oidc_issuer: str,
) -> AsyncIterator[Load]:
    """Import an example as a reader would run it, its providers on the test provider."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JWT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("AUTH_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("AUTH_OIDC_REDIRECT_BASE_URL", APP_BASE)
    monkeypatch.setenv(
        "AUTH_OIDC_PROVIDERS",
        json.dumps(
            {
                "test": {"issuer": oidc_issuer, "client_id": "web", "client_secret": "web-secret"},
                "native": {
                    "issuer": oidc_issuer,
                    "client_id": "web",
                    "client_secret": "web-secret",
                    "native_client_ids": ["native"],
                },
            }
        ),
    )
    monkeypatch.syspath_prepend(str(EXAMPLES))
    loaded: list[ModuleType] = []

    def loader(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(
            f"oidc_example_{name}", EXAMPLES / f"{name}.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(module)
        return module

    yield loader
    for module in loaded:
        auth = getattr(module, "auth", None)
        if auth is not None:
            await auth.aclose()
        example_engine = getattr(module, "engine", None)
        if isinstance(example_engine, AsyncEngine):
            await example_engine.dispose()
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS members"))


async def create_tables(module: ModuleType) -> None:
    async with module.engine.begin() as conn:
        await conn.run_sync(module.Base.metadata.create_all)
        await conn.run_sync(metadata.create_all)


def client(module: ModuleType) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=module.app), base_url=APP_BASE)


async def test_oidc_example_app_signs_up_with_a_provider(load: Load) -> None:
    """The page links to each provider; the loader creates the member, without a password."""
    mod = load("oidc_1")
    await create_tables(mod)
    async with client(mod) as browser:
        page = await browser.get("/")
        started = await browser.get("/auth/oidc/test/authorize", params={"next": "/account"})
        back = await sign_in_at_provider(started.headers["location"], login="alice")
        done = await browser.get(back.url)
        refreshed = await browser.post(
            "/auth/refresh", headers={"X-CSRF-Token": browser.cookies.get("csrf_token") or ""}
        )
        token = refreshed.json()["access_token"]
        me = await browser.get("/me", headers={"Authorization": f"Bearer {token}"})
    async with mod.sessions() as db:
        member = (await db.execute(mod.Member.__table__.select())).one()
    assert '<a href="/auth/oidc/test/authorize?next=/account">Sign in with test</a>' in page.text
    assert done.status_code == 303
    assert done.headers["location"] == "/account"
    assert me.json() == {"id": member.id, "email": "alice@example.com"}
    assert member.hashed_password is None
    assert member.is_verified is True


async def test_oidc_example_refuses_an_unverified_email_match(load: Load) -> None:
    """bob's provider does not verify his email: the existing account is not linked."""
    mod = load("oidc_1")
    await create_tables(mod)
    async with mod.sessions.begin() as db:
        db.add(mod.Member(email="bob@example.com", hashed_password="x", is_verified=True))
    async with client(mod) as browser:
        started = await browser.get("/auth/oidc/test/authorize")
        back = await sign_in_at_provider(started.headers["location"], login="bob")
        done = await browser.get(back.url, headers={"Accept": "application/json"})
    assert done.status_code == 403
    assert done.json()["reason"] == "identity_refused"
    async with mod.sessions() as db:
        assert (await db.execute(select(func.count()).select_from(identities))).scalar_one() == 0


def test_oidc_provider_configurations_parse() -> None:
    """The four configurations of the guide are valid settings, also as the JSON variable."""
    sys.modules.pop("oidc_example_oidc_2", None)
    spec = importlib.util.spec_from_file_location("oidc_example_oidc_2", EXAMPLES / "oidc_2.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    settings = AuthSettings(
        secret_key=TEST_SECRET,
        oidc_providers=json.loads(mod.AUTH_OIDC_PROVIDERS),
        oidc_redirect_base_url="https://app.example.com",
    )
    providers = settings.oidc_providers
    assert set(providers) == {"google", "microsoft", "github", "staff"}
    assert providers["google"].is_oidc
    assert providers["google"].scope_list == ["openid", "email", "profile"]
    assert len(providers["google"].native_client_ids) == 2
    assert providers["microsoft"].issuer is not None
    assert providers["microsoft"].issuer.endswith("/v2.0")
    assert not providers["github"].is_oidc
    assert providers["github"].userinfo_fields.subject == "id"
    assert providers["github"].userinfo_fields.email_verified is None
    assert providers["github"].auth_method == "client_secret_post"
    assert providers["staff"].auth_method == "client_secret_basic"


async def test_oidc_native_example_exchanges_an_id_token(load: Load, oidc_issuer: str) -> None:
    """The native client's ID token (its nonce chosen by the app) becomes a session."""
    app = load("oidc_1")
    native = load("oidc_3")
    await create_tables(app)
    nonce = native.new_nonce()
    id_token = await native_id_token(oidc_issuer, nonce=nonce)
    async with client(app) as api:
        tokens = await native.exchange(api, "native", id_token, nonce)
        me = await api.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        with pytest.raises(httpx.HTTPStatusError) as replayed:
            await native.exchange(api, "native", id_token, nonce)
        with pytest.raises(httpx.HTTPStatusError) as other_nonce:
            await native.exchange(api, "native", id_token, secrets.token_urlsafe(32))
    assert me.json()["email"] == "alice@example.com"
    assert replayed.value.response.status_code == 400
    assert other_nonce.value.response.status_code == 400
