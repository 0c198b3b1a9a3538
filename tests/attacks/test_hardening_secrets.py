"""Issue 11, item 8: no secret material in any error or log line.

In 0.1 a failed production start printed pydantic's `input_value`, which showed the
first characters of the real secret. Now settings errors hide their input, the Redis
URL stays out of the settings' repr, and these tests grep every error path, of the
settings, of the key ring and of the router, for a canary secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings
from authmanager.testing import CapturingHook, test_settings
from tests.app import User, Users, make_app
from tests.conftest import MakeManager, bearer, client_for, login

CANARY = "Zq8vT3xW9yK2mN5pR7sU4vX6zA1bC3dEf"  # 33 bytes: a secret production accepts
WINDOW = 6  # no six characters in a row of the secret may show


def _leaks(text: str, secret: str = CANARY) -> list[str]:
    return [
        secret[i : i + WINDOW]
        for i in range(len(secret) - WINDOW + 1)
        if secret[i : i + WINDOW] in text
    ]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _everything_said(exc: BaseException) -> str:
    """Every message and repr along the exception chain, and pydantic's error details."""
    parts = []
    for e in _chain(exc):
        parts += [str(e), repr(e)]
        if isinstance(e, ValidationError):
            parts += [e.json(), json.dumps(e.errors(include_url=False), default=str)]
    return "\n".join(parts)


SETTINGS_FAILURES = [
    pytest.param(
        {"production": True, "secret_key": CANARY, "previous_keys": ["supersecret"]},
        "development default",
        id="production-default-previous-key",
    ),
    pytest.param(
        {"production": True, "secret_key": CANARY[:20]},
        "shorter than 32",
        id="production-short-secret",
    ),
    pytest.param(
        {"production": True, "secret_key": "s" * 40, "previous_keys": [CANARY[:20]]},
        "shorter than 32",
        id="production-short-previous-key",
    ),
    pytest.param(
        {"secret_key": CANARY, "access_token_expire_minutes": "soon"},
        "valid integer",
        id="bad-field-beside-the-secret",
    ),
    pytest.param({"secret_key": CANARY, "algorithm": "HS999"}, "HS256", id="bad-algorithm"),
    pytest.param(
        {"secret_key": CANARY, "previous_keys": f'["{CANARY}", '},
        "previous_keys",
        id="malformed-previous-keys-json",
    ),
    pytest.param(
        {"secret_key": CANARY, "cookie_name": "same", "csrf_cookie_name": "same"},
        "must differ",
        id="cookie-names-clash",
    ),
    pytest.param(
        {"secret_key": CANARY, "production": True, "cookie_secure": False},
        "COOKIE_SECURE",
        id="production-insecure-cookie",
    ),
]


@pytest.mark.parametrize(("values", "message"), SETTINGS_FAILURES)
def test_settings_errors_never_show_the_secret(values: dict[str, Any], message: str) -> None:
    """Each way settings fail says what is wrong, and nothing of the secret."""
    with pytest.raises(ValidationError) as caught:
        AuthSettings(**values)
    said = _everything_said(caught.value)
    assert message in said
    assert _leaks(said) == [], said


def test_settings_errors_from_the_environment_never_show_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deployment's way: secrets in the environment, production on, a weak old key."""
    monkeypatch.setenv("AUTH_PRODUCTION", "1")
    monkeypatch.setenv("JWT_SECRET_KEY", CANARY)
    monkeypatch.setenv("JWT_PREVIOUS_KEYS", f"{CANARY[::-1]},supersecret")
    monkeypatch.setenv("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "-5")
    with pytest.raises(ValidationError) as caught:
        AuthSettings()
    said = _everything_said(caught.value)
    assert _leaks(said) == [], said
    assert _leaks(said, CANARY[::-1]) == [], said


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_key_loading_errors_never_show_the_key(algorithm: str, session_factory: Any) -> None:
    """A private key that does not load fails the start without quoting it."""
    pem = f"-----BEGIN PRIVATE KEY-----\n{CANARY}{CANARY}\n-----END PRIVATE KEY-----\n"
    settings = test_settings(algorithm=algorithm, private_key=pem)
    assert _leaks(repr(settings)) == []
    with pytest.raises(ValueError, match="key") as caught:
        AuthManager(settings=settings, session_factory=session_factory, user_loader=Users())
    said = _everything_said(caught.value)
    assert _leaks(said) == [], said


def test_rate_limit_storage_password_is_not_in_the_settings_repr() -> None:
    """A Redis URL holds a password: it is kept out of `repr(settings)`."""
    settings = test_settings(rate_limit_storage_url=f"redis://:{CANARY}@127.0.0.1:6379/0")
    for text in (repr(settings), str(settings)):
        assert _leaks(text) == [], text


async def test_router_error_paths_never_show_a_secret(
    make_manager: MakeManager,
    user: User,
    events: CapturingHook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every error answer of the router, fed the canary as password, token and proof."""
    caplog.set_level(logging.DEBUG)
    manager = make_manager(refresh_token_transport="both", login_rate_limit="3/minute")
    answers: list[httpx.Response] = []
    async with client_for(make_app(manager)) as client:
        access = (await login(client)).json()["access_token"]
        for _ in range(4):  # 401 three times, then 429
            answers.append(await login(client, password=CANARY))
        answers += [
            await login(client, f"{CANARY}@example.com" + "x" * 400, CANARY),  # 422
            await client.post("/auth/login", data={"username": CANARY, "password": CANARY * 3000}),
            await client.get("/me", headers=bearer(CANARY)),
            await client.get("/me", headers=bearer(access + CANARY)),
            await client.get(
                "/claims", headers={"Authorization": f"DPoP {access}", "DPoP": CANARY}
            ),
            await client.post("/auth/refresh", json={"refresh_token": CANARY}),
            await client.post("/auth/refresh", json={"refresh_token": CANARY, "x": CANARY}),
            await client.post(
                "/auth/refresh",
                content=f'{{"refresh_token": "{CANARY}',
                headers={"Content-Type": "application/json"},
            ),
            await client.post(
                "/auth/refresh", data={"grant_type": CANARY, "refresh_token": CANARY}
            ),
            await client.post("/auth/refresh", headers={"X-CSRF-Token": CANARY}),
            await client.post("/auth/fresh", data={"password": CANARY}, headers=bearer(access)),
            await client.post("/auth/logout", headers={**bearer(access), "Origin": CANARY}),
        ]
    await manager.drain_events()
    assert {r.status_code for r in answers} == {400, 401, 403, 413, 422, 429}
    for response in answers:
        said = response.text + json.dumps(dict(response.headers))
        assert _leaks(said) == [], said
    assert _leaks(caplog.text) == [], caplog.text
    for event in events.events:
        assert _leaks(json.dumps(event.as_dict(), default=str)) == [], event


async def test_store_failure_answers_never_show_a_secret(
    caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    """The database down (503): the answer and the log name the failure, not the input."""
    caplog.set_level(logging.DEBUG)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/auth.db")
    manager = AuthManager(
        settings=test_settings(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
    )
    async with client_for(make_app(manager)) as client:
        response = await login(client, "alice@example.com", CANARY)
    await engine.dispose()
    assert response.status_code == 503, response.text
    assert _leaks(response.text + caplog.text) == []
