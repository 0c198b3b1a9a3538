"""The second-factor guides' examples run and do what the guides say (TOTP, passkeys, 2 steps)."""

from __future__ import annotations

import warnings
from datetime import timedelta
from types import ModuleType
from typing import Any

import authlib.deprecate
import httpx
import httpx2
import pytest
from fastapi import FastAPI

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader
from authmanager._core.clock import utcnow
from tests.conftest import bearer, client_for
from tests.mfa.authenticator import SoftwareAuthenticator
from tests.mfa.support import KEY_NEW, KEY_OLD, code_at
from tests.support.docs import Load, add_user, create_tables

PASSWORD = "correct horse battery staple"
EMAIL = "ada@example.com"


def _next_code(secret: str) -> str:
    return code_at(secret, utcnow() + timedelta(seconds=30))


async def _login(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/auth/login", data={"username": EMAIL, "password": PASSWORD})


async def _enroll(client: httpx.AsyncClient) -> str:
    """Enroll TOTP for the example's user (password login, fresh); return the secret."""
    token = (await _login(client)).json()["access_token"]
    begun = (await client.post("/auth/factors/totp", headers=bearer(token))).json()
    confirmed = await client.post(
        f"/auth/factors/totp/{begun['factor_id']}/confirm",
        json={"code": code_at(begun["secret"])},
        headers=bearer(token),
    )
    assert confirmed.status_code == 200, confirmed.text
    secret: str = begun["secret"]
    return secret


@pytest.fixture
def totp_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the TOTP guide asks for."""
    monkeypatch.setenv("AUTH_MFA_TOTP_ENABLED", "true")
    monkeypatch.setenv("AUTH_MFA_ENCRYPTION_KEYS", KEY_OLD)


async def _totp_app(load: Load) -> ModuleType:
    mod = load("totp_1")
    await create_tables(mod)
    await add_user(mod)
    return mod


async def test_totp_example_enrolls_and_guards_a_route(load: Load, totp_env: None) -> None:
    """Enroll from the routes; /billing refuses a password session, takes a two-step one."""
    mod = await _totp_app(load)
    async with client_for(mod.app) as client:
        secret = await _enroll(client)
        password_only = (await _login(client)).json()
        two_step = await client.post(
            "/auth/mfa/verify",
            json={"mfa_token": password_only["mfa_token"], "code": _next_code(secret)},
        )
        token = two_step.json()["access_token"]
        billing = await client.get("/billing", headers=bearer(token))
        await mod.auth.aclose()
    assert password_only["error"] == "mfa_required"
    assert billing.json() == {"signed_in_with": ["pwd", "otp", "mfa"]}


async def test_totp_example_refuses_a_password_session(load: Load, totp_env: None) -> None:
    """The guarded route answers 403 `insufficient_user_authentication` to one factor."""
    mod = await _totp_app(load)
    async with client_for(mod.app) as client:
        token = (await _login(client)).json()["access_token"]
        billing = await client.get("/billing", headers=bearer(token))
        await mod.auth.aclose()
    assert billing.status_code == 403, billing.text
    assert billing.json()["error"] == "insufficient_user_authentication"


async def test_totp_key_rotation_example(load: Load, totp_env: None) -> None:
    """Old key, then new + old and the rotation, then the new key alone: codes still work."""
    mod = await _totp_app(load)
    async with client_for(mod.app) as client:
        secret = await _enroll(client)
    await mod.auth.aclose()
    rotation = load("totp_2")
    rotated = await rotation.rotate_totp_key(KEY_NEW, KEY_OLD)
    again = await rotation.rotate_totp_key(KEY_NEW, KEY_OLD)

    def manager(keys: list[str]) -> AuthManager[Any]:
        from app_models import User  # the examples' own module, on sys.path

        return AuthManager(
            settings=AuthSettings(mfa_totp_enabled=True, mfa_encryption_keys=keys),
            session_factory=mod.sessions,
            user_loader=SQLAlchemyUserLoader(User, login_field="email"),
        )

    answers = {}
    for name, keys in (("new", [KEY_NEW]), ("old", [KEY_OLD])):
        auth = manager(keys)
        app = FastAPI()
        app.include_router(auth.router, prefix="/auth")
        async with client_for(app) as client:
            step = (await _login(client)).json()
            answers[name] = await client.post(
                "/auth/mfa/verify",
                json={"mfa_token": step["mfa_token"], "code": _next_code(secret)},
            )
        await auth.aclose()
    assert (rotated, again) == (1, 0)
    assert answers["new"].status_code == 200, answers["new"].text
    assert answers["old"].status_code == 503  # fail closed: no configured key opens it


async def test_passkeys_example_registers_and_signs_in(load: Load) -> None:
    """From one of the listed origins: register after a password login, then sign in alone."""
    mod = load("passkeys_1")
    await create_tables(mod)
    await add_user(mod)
    device = SoftwareAuthenticator(origin="https://app.example.com")
    async with client_for(mod.app) as client:
        token = (await _login(client)).json()["access_token"]
        options = await client.post("/auth/passkeys/register/options", headers=bearer(token))
        created = await client.post(
            "/auth/passkeys/register", json=device.create(options.json()), headers=bearer(token)
        )
        request = await client.post("/auth/passkeys/login/options")
        signed_in = await client.post("/auth/passkeys/login", json=device.get(request.json()))
        stranger = SoftwareAuthenticator(origin="https://elsewhere.example")
        stranger.credentials = device.credentials
        request = await client.post("/auth/passkeys/login/options")
        phished = await client.post("/auth/passkeys/login", json=stranger.get(request.json()))
        payload = await mod.auth.verify_token(signed_in.json()["access_token"])
        await mod.auth.aclose()
    assert options.json()["rp"] == {"id": "example.com", "name": "Example"}
    assert created.status_code == 201, created.text
    assert payload.amr == ["hwk", "mfa"]
    assert phished.status_code == 401  # an origin not listed: the passkey is refused


async def test_two_step_client_example(load: Load, totp_env: None) -> None:
    """The httpx client answers the second step when asked, and only then."""
    mod = await _totp_app(load)
    client_module = load("two_step_1")
    asked: list[list[str]] = []
    async with client_for(mod.app) as client:
        first = await client_module.sign_in(client, EMAIL, PASSWORD, None)
        secret = await _enroll(client)

        async def ask(factors: list[str]) -> dict[str, str]:
            asked.append(factors)
            return {"code": _next_code(secret)}

        async def wrong(factors: list[str]) -> dict[str, str]:
            return {"code": "000000"}

        second = await client_module.sign_in(client, EMAIL, PASSWORD, ask)
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await client_module.sign_in(client, EMAIL, PASSWORD, wrong)
        payload = await mod.auth.verify_token(second["access_token"])
        await mod.auth.aclose()
    assert "access_token" in first
    assert asked == [["totp", "recovery_code"]]
    assert payload.amr == ["pwd", "otp", "mfa"]
    assert refused.value.response.status_code == 401


async def test_two_step_authlib_example(load: Load, totp_env: None) -> None:
    """Authlib's password grant meets `mfa_required`; the example finishes with a code."""
    mod = await _totp_app(load)
    with warnings.catch_warnings():
        # Authlib >= 1.9.10 prefers the `httpx2` fork and warns when it falls back to httpx.
        warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
        client_module = load("two_step_2")
        from authlib.integrations.httpx_client import AsyncOAuth2Client
    async with client_for(mod.app) as client:
        secret = await _enroll(client)
    oauth = AsyncOAuth2Client(
        client_id="app",
        token_endpoint_auth_method="none",
        transport=httpx2.ASGITransport(app=mod.app),
        base_url="https://testserver",
    )
    async with oauth:
        token = await client_module.fetch_token_with_code(
            oauth, "https://testserver/auth/login", EMAIL, PASSWORD, _next_code(secret)
        )
        billing = await oauth.get("/billing")
    await mod.auth.aclose()
    assert token["token_type"] == "bearer"
    assert billing.json() == {"signed_in_with": ["pwd", "otp", "mfa"]}


async def test_own_login_route_asks_for_the_second_factor(load: Load, totp_env: None) -> None:
    """/api/login: tokens without a factor; with one, the 403 that /auth/mfa/verify answers."""
    mod = load("two_step_3")
    await create_tables(mod)
    await add_user(mod)
    credentials = {"email": EMAIL, "password": PASSWORD}
    async with client_for(mod.app) as client:
        one_step = await client.post("/api/login", json=credentials)
        secret = await _enroll(client)
        challenged = await client.post("/api/login", json=credentials)
        wrong = await client.post("/api/login", json={**credentials, "password": "nope"})
        finished = await client.post(
            "/auth/mfa/verify",
            json={"mfa_token": challenged.json()["mfa_token"], "code": _next_code(secret)},
        )
        payload = await mod.auth.verify_token(finished.json()["access_token"])
        await mod.auth.aclose()
    assert one_step.status_code == 200, one_step.text
    assert challenged.status_code == 403, challenged.text
    assert challenged.json()["error"] == "mfa_required"
    assert challenged.json()["factors"] == ["totp", "recovery_code"]
    assert wrong.status_code == 401
    assert "mfa_token" not in wrong.json()
    assert payload.amr == ["pwd", "otp", "mfa"]
