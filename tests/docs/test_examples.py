"""Every example of the documentation runs, and does what its guide says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from pydantic import ValidationError
from sqlalchemy import select

from authmanager import metadata
from authmanager.exceptions import InvalidTokenError, Reason
from tests.conftest import bearer, client_for
from tests.support.docs import EXAMPLES, Load, add_user, create_tables

PASSWORD = "correct horse battery staple"
EMAIL = "ada@example.com"

BINDING = "tests/docs/test_binding_examples.py::"
FIRST_USE = "tests/docs/test_firstuse_examples.py::"
APIKEYS = "tests/docs/test_apikeys_examples.py::"
ACCOUNTS = "tests/docs/test_account_examples.py::"
MFA = "tests/docs/test_mfa_examples.py::"
OIDC = "tests/identities/test_doc_examples.py::"

# Which test runs each file of docs/examples; a new example without a test fails below.
COVERED = {
    "app_models.py": "test_app_models_is_the_user_table",
    "quickstart_1.py": "test_quickstart_gives_a_protected_api",
    "login_1.py": "test_login_protects_routes",
    "login_2.py": "test_login_from_python_client",
    "cookies_1.py": "test_cookie_transport_with_csrf",
    "cookies_2.js": "tests/browser/test_demo_browser.py::test_docs_cookie_client_in_browser",
    "fresh_1.py": BINDING + "test_fresh_example_guards_delete_with_fresh_login",
    "device_1.py": BINDING + "test_device_example_binds_device_and_network",
    "dpop_1.py": BINDING + "test_dpop_example_client_flow",
    "websockets_1.py": BINDING + "test_websockets_example_closes_on_logout",
    "logout_1.py": "test_logout_and_logout_everywhere",
    "sessions_1.py": "test_sessions_listed_and_ended",
    "claims_1.py": "test_custom_claims_and_validator",
    "scopes_1.py": "test_scopes_guard_routes",
    "service_1.py": "test_service_token_for_another_audience",
    "mobile_1.py": "test_mobile_body_transport_and_device_claims",
    "keys_1.py": "test_key_rotation_keeps_old_tokens_valid",
    "keys_2.py": "test_resource_service_verifies_with_jwks",
    "observability_1.py": "test_audit_log_json_and_metrics",
    "ratelimit_1.py": "test_rate_limit_settings_and_429",
    "migrations_1.py": "test_alembic_env_creates_token_tables",
    "passwords_1.py": "test_password_change_needs_fresh_login",
    "production_1.py": "test_production_settings_refuse_insecure",
    "totp_1.py": MFA + "test_totp_example_enrolls_and_guards_a_route",
    "totp_2.py": MFA + "test_totp_key_rotation_example",
    "passkeys_1.py": MFA + "test_passkeys_example_registers_and_signs_in",
    "two_step_1.py": MFA + "test_two_step_client_example",
    "two_step_2.py": MFA + "test_two_step_authlib_example",
    "two_step_3.py": MFA + "test_own_login_route_asks_for_the_second_factor",
    "oauth_1.py": FIRST_USE + "test_oauth_recipe_password_grant_and_automatic_refresh",
    "apikeys_1.py": APIKEYS + "test_api_key_examples_serve_scripts_and_people",
    "apikeys_2.py": APIKEYS + "test_api_key_examples_serve_scripts_and_people",
    "admin_1.py": "tests/docs/test_admin_examples.py::"
    + "test_admin_example_caps_impersonates_and_deactivates",
    "registration_1.py": ACCOUNTS + "test_registration_with_verified_addresses",
    "registration_2.py": ACCOUNTS + "test_registration_from_python",
    "email_verification_1.py": ACCOUNTS + "test_verified_user_gate",
    "password_reset_1.py": ACCOUNTS + "test_password_reset_settings_and_flow",
    "email_change_1.py": ACCOUNTS + "test_email_change_flow",
    "login_links_1.py": ACCOUNTS + "test_login_links_and_amr",
    "email_delivery_1.py": ACCOUNTS + "test_email_delivery_over_smtp",
    "email_delivery_2.js": (
        "tests/browser/test_accounts_browser.py::test_docs_link_page_reads_the_fragment"
    ),
    "oidc_1.py": OIDC + "test_oidc_example_app_signs_up_with_a_provider",
    "oidc_2.py": OIDC + "test_oidc_provider_configurations_parse",
    "oidc_3.py": OIDC + "test_oidc_native_example_exchanges_an_id_token",
}


def test_every_example_has_a_test() -> None:
    """Each file in docs/examples is exercised by a named test that exists."""
    files = {p.name for p in EXAMPLES.iterdir() if p.suffix in {".py", ".js"}}
    assert files == set(COVERED)
    root = Path(__file__).resolve().parents[2]
    for test in COVERED.values():
        path, _, name = test.rpartition("::")
        source = (root / path).read_text() if path else Path(__file__).read_text()
        assert f"def {name}(" in source, test


async def _login(client: httpx.AsyncClient, email: str = EMAIL, **kwargs: Any) -> httpx.Response:
    return await client.post(
        "/auth/login", data={"username": email, "password": PASSWORD}, **kwargs
    )


async def _token(client: httpx.AsyncClient, email: str = EMAIL, **kwargs: Any) -> str:
    response = await _login(client, email, **kwargs)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies.get("csrf_token") or ""}


def test_app_models_is_the_user_table(load: Load) -> None:
    """The shared model has the columns the loader and the guides rely on."""
    module = load("app_models")
    assert set(module.User.__table__.columns.keys()) == {
        "id",
        "email",
        "hashed_password",
        "is_active",
        "is_verified",
        "role",
    }


async def test_quickstart_gives_a_protected_api(load_sqlite: Load, tmp_path: Path) -> None:
    """Sign up, log in, call /me with the token; without it, 401."""
    qs = load_sqlite("quickstart_1")
    async with LifespanManager(qs.app), client_for(qs.app) as client:
        signup = await client.post("/signup", json={"email": EMAIL, "password": PASSWORD})
        assert signup.status_code == 201
        token = await _token(client)
        me = await client.get("/me", headers=bearer(token))
        anonymous = await client.get("/me")
    assert me.status_code == 200
    assert me.json() == {"id": signup.json()["id"], "email": EMAIL}
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert (tmp_path / "app.db").is_file()


async def test_login_protects_routes(load: Load) -> None:
    """current_user, optional_user and token_data answer as the login guide says."""
    mod = load("login_1")
    async with LifespanManager(mod.app), client_for(mod.app) as client:
        user = await add_user(mod)
        stranger = await client.get("/hello")
        token = await _token(client)
        me = await client.get("/me", headers=bearer(token))
        hello = await client.get("/hello", headers=bearer(token))
        claims = await client.get("/token", headers=bearer(token))
        forged = await client.get("/hello", headers=bearer(token[:-4] + "AAAA"))
        sessions = await mod.auth.list_sessions(str(user.id))
    assert stranger.json() == {"hello": "stranger"}
    assert me.json() == {"id": user.id, "email": EMAIL}
    assert hello.json() == {"hello": EMAIL}
    assert claims.status_code == 200
    assert claims.json()["sub"] == str(user.id)
    assert [s.id for s in sessions] == [claims.json()["session"]]
    assert forged.status_code == 401


async def test_login_from_python_client(load: Load) -> None:
    """The httpx password-grant example logs in and reads /me."""
    app_module = load("login_1")
    client_module = load("login_2")
    async with LifespanManager(app_module.app), client_for(app_module.app) as client:
        user = await add_user(app_module)
        me = await client_module.login_and_call(client, EMAIL, PASSWORD)
        with pytest.raises(httpx.HTTPStatusError) as failed:
            await client_module.login_and_call(client, EMAIL, "wrong password")
    assert me == {"id": user.id, "email": EMAIL}
    assert failed.value.response.status_code == 401


async def test_cookie_transport_with_csrf(load: Load) -> None:
    """Cookie login from the allowed origin; cross-origin and header-less refresh refused."""
    mod = load("cookies_1")
    await create_tables(mod)
    await add_user(mod)
    front = {"Origin": "https://app.example.com"}
    async with client_for(mod.app) as client:
        evil = await _login(client, headers={"Origin": "https://evil.example"})
        assert client.cookies.get("refresh_token") is None
        login = await _login(client, headers=front)
        cookie = login.headers["set-cookie"]
        first = client.cookies.get("refresh_token")
        no_proof = await client.post("/auth/refresh", headers=front)
        refreshed = await client.post("/auth/refresh", headers={**front, **_csrf(client)})
    assert evil.status_code == 403
    assert evil.json()["error"] == "access_denied"
    assert login.status_code == 200
    assert "refresh_token" not in login.json()
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/auth"):
        assert flag.lower() in cookie.lower()
    assert no_proof.status_code == 403
    assert refreshed.status_code == 200
    assert client.cookies.get("refresh_token") not in {None, first}
    async with mod.sessions() as db:
        rows = (await db.execute(select(metadata.tables["authmanager_sessions"]))).all()
    assert len(rows) == 1  # the refused login created nothing


async def test_logout_and_logout_everywhere(load: Load) -> None:
    """sign-out ends one session; lock_account and sign-out-everywhere end them all."""
    mod = load("logout_1")
    await create_tables(mod)
    user = await add_user(mod)
    async with client_for(mod.app) as client:
        first, second = await _token(client), await _token(client)
        out = await client.post("/account/sign-out", headers=bearer(first))
        after_first = await client.get("/auth/sessions", headers=bearer(first))
        still = await client.get("/auth/sessions", headers=bearer(second))
        locked = await mod.lock_account(str(user.id))
        after_lock = await client.get("/auth/sessions", headers=bearer(second))
        third, fourth = await _token(client), await _token(client)
        everywhere = await client.post("/account/sign-out-everywhere", headers=bearer(third))
        after_all = await client.get("/auth/sessions", headers=bearer(fourth))
    assert out.status_code == 200
    assert 'refresh_token=""' in out.headers["set-cookie"]
    assert after_first.status_code == 401
    assert still.status_code == 200
    assert len(still.json()) == 1
    assert locked >= 2
    assert after_lock.status_code == 401
    assert everywhere.status_code == 200
    assert everywhere.json()["revoked"] >= 4
    assert after_all.status_code == 401


async def test_sessions_listed_and_ended(load: Load) -> None:
    """The router lists sessions with the current one marked; the helpers end the oldest."""
    mod = load("sessions_1")
    await create_tables(mod)
    user = await add_user(mod)
    uid = str(user.id)
    async with client_for(mod.app) as client:
        phone = await _token(client, headers={"User-Agent": "phone"})
        laptop = await _token(client, headers={"User-Agent": "laptop"})
        listed = await client.get("/auth/sessions", headers=bearer(laptop))
        lines = await mod.describe_sessions(uid)
        ended = await mod.end_oldest_session(uid)
        phone_after = await client.get("/auth/sessions", headers=bearer(phone))
        laptop_after = await client.get("/auth/sessions", headers=bearer(laptop))
    body = listed.json()
    assert [(s["user_agent"], s["current"]) for s in body] == [("laptop", True), ("phone", False)]
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == ["laptop", "phone"]
    assert ended is True
    assert phone_after.status_code == 401
    assert [s["user_agent"] for s in laptop_after.json()] == ["laptop"]
    assert await mod.end_oldest_session("no-such-user") is False


async def test_custom_claims_and_validator(load: Load) -> None:
    """token_claims reaches the tokens (and survives a refresh); the validator gates /admin."""
    mod = load("claims_1")
    await create_tables(mod)
    await add_user(mod, "root@example.com", role="admin")
    await add_user(mod)
    async with client_for(mod.app) as client:
        user_token = await _token(client)
        denied = await client.get("/admin/report", headers=bearer(user_token))
        admin_token = await _token(client, "root@example.com")
        allowed = await client.get("/admin/report", headers=bearer(admin_token))
        refreshed = await client.post("/auth/refresh", headers=_csrf(client))
        new_token = refreshed.json()["access_token"]
        whoami = await client.get("/whoami", headers=bearer(new_token))
    assert denied.status_code == 403
    assert denied.json() == {"detail": "The token does not allow this."}
    assert allowed.status_code == 200
    assert allowed.json()["report"] == "ok"
    assert refreshed.status_code == 200
    assert whoami.json()["role"] == "admin"
    assert whoami.json()["tenant"] == "acme"


async def test_scopes_guard_routes(load: Load) -> None:
    """orders:read lets users list; only orders:write (admins) may create."""
    mod = load("scopes_1")
    await create_tables(mod)
    await add_user(mod)
    await add_user(mod, "root@example.com", role="admin")
    async with client_for(mod.app) as client:
        user_token = await _token(client)
        listed = await client.get("/orders", headers=bearer(user_token))
        refused = await client.post("/orders", headers=bearer(user_token))
        created = await client.post(
            "/orders", headers=bearer(await _token(client, "root@example.com"))
        )
    assert listed.status_code == 200
    assert refused.status_code == 403
    assert refused.json() == {"detail": "The token lacks a required scope."}
    assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
    assert created.status_code == 201


async def test_service_token_for_another_audience(load: Load) -> None:
    """Billing accepts the minted token; accounts refuses it; revocation reaches billing."""
    mod = load("service_1")
    await create_tables(mod)
    token = await mod.mint_reports_token()
    async with client_for(mod.billing_app) as client:
        ok = await client.get("/invoices", headers=bearer(token))
        with pytest.raises(InvalidTokenError) as wrong:
            await mod.accounts.verify_token(token)
        assert await mod.billing.revoke_token(token) is True
        revoked = await client.get("/invoices", headers=bearer(token))
    assert ok.status_code == 200
    assert ok.json() == {"caller": "service:reports", "audience": "billing-api"}
    assert wrong.value.reason == Reason.WRONG_AUDIENCE
    assert revoked.status_code == 401


async def test_mobile_body_transport_and_device_claims(load: Load) -> None:
    """Refresh tokens travel in the body; the device login puts its claims in the tokens."""
    mod = load("mobile_1")
    await create_tables(mod)
    await add_user(mod)
    async with client_for(mod.app) as client:
        login = await _login(client, headers={"X-Device-Id": "pixel-8"})
        old = login.json()["refresh_token"]
        elsewhere = await client.post("/auth/refresh", json={"refresh_token": old})
        rotated = await client.post(
            "/auth/refresh", json={"refresh_token": old}, headers={"X-Device-Id": "pixel-8"}
        )
        device = await client.post(
            "/mobile/login",
            json={"username": EMAIL, "password": PASSWORD, "device_id": "ios-1", "platform": "ios"},
        )
        wrong = await client.post(
            "/mobile/login",
            json={"username": EMAIL, "password": "nope", "device_id": "x", "platform": "ios"},
        )
    assert login.status_code == 200
    assert "set-cookie" not in login.headers
    assert elsewhere.status_code == 401
    assert elsewhere.json()["reason"] == "device_mismatch"
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != old
    payload = await mod.auth.verify_token(device.json()["access_token"])
    assert (payload["device_id"], payload["platform"]) == ("ios-1", "ios")
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    table = metadata.tables["authmanager_sessions"]
    async with mod.sessions() as db:
        devices = set((await db.execute(select(table.c.device_id))).scalars())
    assert devices == {"pixel-8", "ios-1"}


async def test_key_rotation_keeps_old_tokens_valid(load: Load) -> None:
    """A token of the old key verifies after rotation; without the old key it does not."""
    mod = load("keys_1")
    await create_tables(mod)
    old_pem, new_pem, spare = mod.new_es256_key(), mod.new_es256_key(), mod.new_es256_key()
    before = mod.manager(mod.rotated_settings(old_pem, spare))
    token = await before.create_access_token({"sub": "42"})
    after = mod.manager(mod.rotated_settings(new_pem, old_pem))
    payload = await after.verify_token(token)
    new_token = await after.create_access_token({"sub": "42"})
    without_old = mod.manager(mod.rotated_settings(new_pem, spare))
    with pytest.raises(InvalidTokenError) as refused:
        await without_old.verify_token(token)
    assert payload.sub == "42"
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(token)["kid"]
    assert len(after.jwks["keys"]) == 2
    assert refused.value.reason == Reason.UNKNOWN_KEY


async def test_resource_service_verifies_with_jwks(load: Load) -> None:
    """The JWKS verifier accepts access tokens, refuses refresh tokens and unknown keys."""
    keys = load("keys_1")
    verifier_module = load("keys_2")
    await create_tables(keys)
    auth = keys.manager(keys.rotated_settings(keys.new_es256_key(), keys.new_es256_key()))
    stranger = keys.manager(keys.rotated_settings(keys.new_es256_key(), keys.new_es256_key()))
    from fastapi import FastAPI

    app = FastAPI()
    app.include_router(auth.router, prefix="/auth")
    pair = await auth.create_token_pair({"sub": "7", "scopes": ["read"]})
    foreign = await stranger.create_access_token({"sub": "7"})
    async with client_for(app) as http:
        verifier = verifier_module.JWKSVerifier(
            "/auth/.well-known/jwks.json",
            audience="api.example.com",
            issuer="https://auth.example.com",
            http=http,
        )
        claims = await verifier.verify(pair.access_token)
        with pytest.raises(jwt.InvalidTokenError, match="not an access token"):
            await verifier.verify(pair.refresh_token)
        with pytest.raises(jwt.InvalidTokenError, match="unknown key id"):
            await verifier.verify(foreign)
    assert (claims["sub"], claims["scopes"], claims["aud"]) == ("7", ["read"], "api.example.com")


async def test_audit_log_json_and_metrics(load: Load, capsys: pytest.CaptureFixture[str]) -> None:
    """Each event is one JSON line without secrets; /metrics counts them."""
    import structlog

    mod = load("observability_1")
    try:
        await create_tables(mod)
        await add_user(mod)
        async with client_for(mod.app) as client:
            token = await _token(client)
            await client.post("/auth/login", data={"username": EMAIL, "password": "wrong"})
            await mod.auth.drain_events()
            exposition = await client.get("/metrics/")
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    finally:
        structlog.reset_defaults()
    events = [line["event"] for line in lines]
    assert {"login.succeeded", "token.issued", "login.failed"} <= set(events)
    failed = next(line for line in lines if line["event"] == "login.failed")
    assert (failed["level"], failed["reason"]) == ("warning", "bad_credentials")
    assert all(token not in json.dumps(line) and PASSWORD not in json.dumps(line) for line in lines)
    assert exposition.status_code == 200
    assert 'authmanager_events_total{event="login.succeeded",outcome="success"} 1.0' in (
        exposition.text
    )


async def test_rate_limit_settings_and_429(load: Load) -> None:
    """The settings parse; with the default limit the sixth failed login gets 429."""
    mod = load("ratelimit_1")
    assert mod.shared.rate_limit_storage_url == "redis://localhost:6379/0"
    assert mod.off.login_rate_limit == ""
    assert mod.proxied.trusted_proxies == ["10.0.0.0/8"]
    from app_models import User
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from authmanager import AuthManager, SQLAlchemyUserLoader

    engine = create_async_engine(str(__import__("os").environ["DATABASE_URL"]))
    mod.engine, mod.sessions = engine, async_sessionmaker(engine, expire_on_commit=False)
    auth = AuthManager(
        settings=mod.single, session_factory=mod.sessions, user_loader=SQLAlchemyUserLoader(User)
    )
    mod.auth = auth
    await create_tables(mod)
    await add_user(mod)
    app = FastAPI()
    app.include_router(auth.router, prefix="/auth")
    bad = {"username": EMAIL, "password": "wrong"}
    async with client_for(app) as client:
        answers = [(await client.post("/auth/login", data=bad)).status_code for _ in range(6)]
        limited = await client.post("/auth/login", data=bad)
    assert answers == [401] * 5 + [429]
    assert int(limited.headers["retry-after"]) > 0


def test_alembic_env_creates_token_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide's env.py autogenerates a migration that creates every table, and no drift."""
    import shutil
    import sqlite3

    import alembic
    from alembic import command
    from alembic.config import Config

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    shutil.copy(EXAMPLES / "migrations_1.py", scripts / "env.py")
    template = Path(alembic.__file__).parent / "templates" / "async" / "script.py.mako"
    shutil.copy(template, scripts / "script.py.mako")
    config = Config()
    config.set_main_option("script_location", str(scripts))
    command.revision(config, message="initial", autogenerate=True)
    command.upgrade(config, "head")
    command.check(config)  # raises when the models and the database differ
    with sqlite3.connect(tmp_path / "app.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    assert {"users", "alembic_version", *metadata.tables} <= tables


async def test_password_change_needs_fresh_login(load: Load) -> None:
    """Only a fresh token may change the password; other sessions end, this one stays."""
    mod = load("passwords_1")
    await create_tables(mod)
    await add_user(mod)
    new = {"new_password": "a much longer new passphrase"}
    async with client_for(mod.app) as client:
        other = await _token(client)
        current = await _token(client)
        stale = (await client.post("/auth/refresh", headers=_csrf(client))).json()["access_token"]
        not_fresh = await client.post("/account/password", json=new, headers=bearer(stale))
        current = await _token(client)
        changed = await client.post("/account/password", json=new, headers=bearer(current))
        other_after = await client.get("/auth/sessions", headers=bearer(other))
        current_after = await client.get("/auth/sessions", headers=bearer(current))
        old_password = await _login(client)
        new_login = await client.post(
            "/auth/login", data={"username": EMAIL, "password": new["new_password"]}
        )
    assert not_fresh.status_code == 401
    assert "recent login" in not_fresh.json()["detail"]
    assert changed.status_code == 200
    assert changed.json()["revoked"] >= 2
    assert other_after.status_code == 401
    assert current_after.status_code == 200
    assert old_password.status_code == 401
    assert new_login.status_code == 200


def test_production_settings_refuse_insecure(load: Load) -> None:
    """The production example loads; the default or a short secret refuses to start."""
    mod = load("production_1")
    assert mod.settings.production is True
    with pytest.raises(ValidationError, match="development default"):
        type(mod.settings)(production=True, secret_key="supersecret")
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        type(mod.settings)(production=True, secret_key="short-but-not-default")
