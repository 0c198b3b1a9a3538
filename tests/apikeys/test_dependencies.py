"""API keys over HTTP: `api_key_user`, `current_principal`, and scopes/validators for keys.

A key is accepted only where a key may be (never by `current_user` or `token_data`), an
access token never as a key, and a revoked key or a key of a deactivated, inactive or
deleted user is refused from the next request on (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Security
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager import AuthManager, NewApiKey
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook
from tests.apikeys.conftest import counting
from tests.apikeys.support import access_token, key_app, key_header
from tests.app import User
from tests.conftest import bearer, client_for


@pytest.fixture
async def client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(key_app(manager)) as c:
        yield c


@pytest.fixture
async def key(manager: AuthManager[User], user: User) -> NewApiKey:
    return await manager.create_api_key(str(user.id), name="CI", scopes=["read"])


def _refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == reason
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("how", ["x-api-key", "bearer"])
async def test_api_key_user_takes_a_key_in_either_header(
    client: httpx.AsyncClient, key: NewApiKey, user: User, how: str
) -> None:
    """`X-API-Key: <key>` and `Authorization: Bearer <key>` both give the key's user."""
    headers = key_header(key.key) if how == "x-api-key" else bearer(key.key)
    response = await client.get("/key-user", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": user.id}


async def test_api_key_user_refuses_an_access_token(client: httpx.AsyncClient, user: User) -> None:
    """An access token is never taken as a key: 401 `wrong_credential`."""
    token = await access_token(client)
    _refused(await client.get("/key-user", headers=bearer(token)), "wrong_credential")
    _refused(await client.get("/key-user", headers=key_header(token)), "api_key_malformed")


async def test_api_key_user_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    """No key at all: 401 `missing`."""
    _refused(await client.get("/key-user"), "missing")


@pytest.mark.parametrize("path", ["/me", "/claims", "/maybe"])
async def test_token_dependencies_never_accept_a_key(
    client: httpx.AsyncClient, key: NewApiKey, path: str, events: CapturingHook
) -> None:
    """`current_user`, `token_data`, `optional_user` refuse a Bearer key and ignore X-API-Key."""
    _refused(await client.get(path, headers=bearer(key.key)), "wrong_credential")
    ignored = await client.get(path, headers=key_header(key.key))
    if path == "/maybe":
        assert ignored.json() == {"id": None}
    else:
        _refused(ignored, "missing")


async def test_fresh_user_refuses_a_key(client: httpx.AsyncClient, key: NewApiKey) -> None:
    """A key can never pass as a fresh login (it could create keys or change passwords)."""
    _refused(await client.post("/change-email", headers=bearer(key.key)), "wrong_credential")


@pytest.mark.parametrize("credential", ["token", "key"])
async def test_current_principal_takes_a_token_or_a_key(
    client: httpx.AsyncClient, key: NewApiKey, user: User, credential: str
) -> None:
    """`current_principal` gives the user of an access token and of a key alike."""
    value = await access_token(client) if credential == "token" else key.key
    response = await client.get("/principal", headers=bearer(value))
    assert response.status_code == 200, response.text
    assert response.json() == {"id": user.id}


async def test_two_credentials_are_refused(client: httpx.AsyncClient, key: NewApiKey) -> None:
    """A token and a key in one request are ambiguous: 401 `duplicate_credentials`."""
    token = await access_token(client)
    both = {**bearer(token), **key_header(key.key)}
    for path in ("/principal", "/read", "/key-user"):
        _refused(await client.get(path, headers=both), "duplicate_credentials")
    two = httpx.Headers([("X-API-Key", key.key), ("X-API-Key", key.key)])
    _refused(await client.get("/key-user", headers=two), "duplicate_credentials")


async def test_a_key_is_never_sent_as_dpop(client: httpx.AsyncClient, key: NewApiKey) -> None:
    """`Authorization: DPoP <key>` is refused: keys are not bound to a DPoP key."""
    response = await client.get("/read", headers={"Authorization": f"DPoP {key.key}"})
    _refused(response, "malformed")


async def test_require_scopes_checks_a_keys_scopes(
    client: httpx.AsyncClient, key: NewApiKey, user: User
) -> None:
    """A key with `read` passes `require_scopes("read")`, not `("deploy")`: 403."""
    ok = await client.get("/read", headers=key_header(key.key))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"sub": str(user.id), "type": "api_key", "scopes": ["read"], "role": None}
    refused = await client.get("/deploy", headers=bearer(key.key))
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == "The API key lacks a required scope."
    assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'


async def test_require_scopes_for_tokens_is_unchanged(
    client: httpx.AsyncClient, user: User
) -> None:
    """Tokens still get their TokenPayload, with custom claims, and the same 403."""
    token = await access_token(client)
    ok = await client.get("/read", headers=bearer(token))
    assert ok.json() == {"sub": str(user.id), "type": "access", "scopes": ["read"], "role": "user"}
    refused = await client.get("/deploy", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "The token lacks a required scope."


async def test_token_validator_sees_the_key_principal(
    client: httpx.AsyncClient, key: NewApiKey
) -> None:
    """`token_validator(fn)` calls fn with the key's principal: `type == "api_key"`."""
    assert (await client.get("/keys-only", headers=key_header(key.key))).status_code == 200
    token = await access_token(client)
    assert (await client.get("/keys-only", headers=bearer(token))).status_code == 403
    # The test app's validator reads a claim a key lacks (`role`): it refuses, 403.
    assert (await client.get("/validated", headers=key_header(key.key))).status_code == 403
    assert (await client.get("/admin", headers=key_header(key.key))).status_code == 403


def test_scope_and_validator_dependencies_are_memoised(manager: AuthManager[User]) -> None:
    """`require_scopes` memoises on the set of scopes, `token_validator` on the function."""
    assert manager.require_scopes("a", "b") is manager.require_scopes("b", "a")

    def check(_p: object) -> bool:
        return True

    assert manager.token_validator(check) is manager.token_validator(check)


async def test_scope_check_of_a_key_is_one_select(
    client: httpx.AsyncClient, key: NewApiKey, engine: AsyncEngine
) -> None:
    """`require_scopes` with a key costs one indexed SELECT, like a token's check."""
    await client.get("/read", headers=key_header(key.key))  # warm the pool
    with counting(engine) as counter:
        response = await client.get("/read", headers=key_header(key.key))
    assert response.status_code == 200
    assert counter.verbs == ["SELECT"]
    assert "key_hash" in counter.statements[0]


async def test_a_typo_costs_no_query(
    client: httpx.AsyncClient, key: NewApiKey, engine: AsyncEngine
) -> None:
    """A key whose checksum fails is refused before the database is asked."""
    broken = key.key[:-1] + ("0" if key.key[-1] != "0" else "1")
    with counting(engine) as counter:
        response = await client.get("/read", headers=key_header(broken))
    _refused(response, "api_key_checksum")
    assert counter.statements == []


async def test_revoked_key_is_refused_on_the_next_request(
    client: httpx.AsyncClient, manager: AuthManager[User], key: NewApiKey, user: User
) -> None:
    """After `revoke_api_key`, the very next request with the key is 401."""
    assert (await client.get("/read", headers=key_header(key.key))).status_code == 200
    assert await manager.revoke_api_key(str(user.id), key.id) is True
    _refused(await client.get("/read", headers=key_header(key.key)), "api_key_revoked")
    _refused(await client.get("/key-user", headers=key_header(key.key)), "api_key_revoked")


async def test_key_of_a_deactivated_user_is_refused_everywhere(
    client: httpx.AsyncClient,
    manager: AuthManager[User],
    key: NewApiKey,
    user: User,
    events: CapturingHook,
) -> None:
    """`deactivate_user` revokes the keys: scopes, validators and api_key_user refuse them."""
    await manager.deactivate_user(str(user.id))
    for path in ("/read", "/keys-only", "/key-user", "/principal"):
        _refused(await client.get(path, headers=key_header(key.key)), "api_key_revoked")
    await manager.drain_events()
    rejected = events.of(EventName.TOKEN_REJECTED)
    assert {e.reason for e in rejected} == {"api_key_revoked"}
    assert all(e.extra.get("credential") == "api_key" for e in rejected)


async def test_key_of_a_user_the_loader_reports_inactive_or_missing(
    client: httpx.AsyncClient,
    key: NewApiKey,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Where the user is loaded (api_key_user, current_principal), inactive/gone is 401."""
    async with session_factory.begin() as db:
        await db.execute(update(User).where(User.id == user.id).values(is_active=False))
    for path in ("/key-user", "/principal"):
        _refused(await client.get(path, headers=key_header(key.key)), "user_inactive")
    async with session_factory.begin() as db:
        await db.execute(delete(User).where(User.id == user.id))
    for path in ("/key-user", "/principal"):
        _refused(await client.get(path, headers=key_header(key.key)), "user_not_found")


async def test_key_use_is_recorded_behind_the_request(
    client: httpx.AsyncClient, manager: AuthManager[User], key: NewApiKey, user: User
) -> None:
    """`last_used_at` is written by the manager's recorder (at the latest at `aclose`)."""
    assert (await client.get("/read", headers=key_header(key.key))).status_code == 200
    [before] = await manager.list_api_keys(str(user.id))
    assert before.last_used_at is None  # nothing written on the request path
    await manager.aclose()
    [after] = await manager.list_api_keys(str(user.id))
    assert after.last_used_at is not None


async def test_the_router_lifespan_writes_pending_key_uses_at_shutdown(
    manager: AuthManager[User], key: NewApiKey, user: User
) -> None:
    """An app that only mounts the router (no `aclose`) still keeps the last use."""
    app = key_app(manager)
    async with LifespanManager(app), client_for(app) as client:
        assert (await client.get("/read", headers=key_header(key.key))).status_code == 200
        [before] = await manager.list_api_keys(str(user.id))
    [after] = await manager.list_api_keys(str(user.id))
    assert before.last_used_at is None
    assert after.last_used_at is not None


async def test_openapi_declares_the_key_scheme_where_keys_are_taken(
    manager: AuthManager[User],
) -> None:
    """Routes taking keys declare `APIKeyHeader` (X-API-Key); token-only routes do not."""
    doc = key_app(manager).openapi()
    scheme = doc["components"]["securitySchemes"]["APIKeyHeader"]
    assert scheme == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": scheme["description"],
    }

    def schemes(path: str, method: str = "get") -> set[str]:
        return {name for item in doc["paths"][path][method]["security"] for name in item}

    assert schemes("/read") == {"APIKeyHeader", "BearerScheme"}
    assert schemes("/principal") == {"APIKeyHeader", "BearerScheme"}
    assert schemes("/key-user") == {"APIKeyHeader"}
    assert schemes("/me") == {"BearerScheme"}
    assert schemes("/auth/api-keys") == {"BearerScheme"}


async def test_security_scopes_apply_to_key_dependencies(
    manager: AuthManager[User], key: NewApiKey, user: User
) -> None:
    """`Security(api_key_user | current_principal, scopes=[...])` checks a key's scopes.

    A scope check that FastAPI's convention asks for is never silently skipped: a key
    with `read` only passes `scopes=["read"]` and gets 403 for `["deploy"]`; the same
    for a token through `current_principal`. OpenAPI lists the scopes.
    """
    app = key_app(manager)

    @app.get("/sec/key-read")
    async def by_key(u: User = Security(manager.api_key_user, scopes=["read"])) -> dict[str, int]:
        return {"id": u.id}

    @app.get("/sec/key-deploy")
    async def by_key_deploy(u: User = Security(manager.api_key_user, scopes=["deploy"])) -> None:
        raise AssertionError("a key without `deploy` got through")

    @app.get("/sec/principal-deploy")
    async def by_principal_deploy(
        u: User = Security(manager.current_principal, scopes=["deploy"]),
    ) -> None:
        raise AssertionError("a credential without `deploy` got through")

    @app.get("/sec/principal-read")
    async def by_principal_read(
        u: User = Security(manager.current_principal, scopes=["read"]),
    ) -> dict[str, int]:
        return {"id": u.id}

    async with client_for(app) as client:
        token = await access_token(client)
        ok = await client.get("/sec/key-read", headers=key_header(key.key))
        key_deploy = await client.get("/sec/key-deploy", headers=key_header(key.key))
        principal_key = await client.get("/sec/principal-deploy", headers=key_header(key.key))
        principal_token = await client.get("/sec/principal-deploy", headers=bearer(token))
        read_token = await client.get("/sec/principal-read", headers=bearer(token))
        read_key = await client.get("/sec/principal-read", headers=bearer(key.key))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"id": user.id}
    for refused, what in ((key_deploy, "API key"), (principal_key, "API key")):
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == f"The {what} lacks a required scope."
    assert principal_token.status_code == 403
    assert principal_token.json()["detail"] == "The token lacks a required scope."
    assert (read_token.status_code, read_key.status_code) == (200, 200)
    doc = app.openapi()["paths"]["/sec/principal-deploy"]["get"]["security"]
    assert {name: scopes for item in doc for name, scopes in item.items()} == {
        "APIKeyHeader": ["deploy"],
        "BearerScheme": ["deploy"],
    }
