"""`GET /api-keys`, `POST /api-keys` (fresh login; shown once), `DELETE /api-keys/{key_id}`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager
from authmanager.exceptions import TokenStoreUnavailableError
from authmanager.hooks import EventName
from authmanager.testing import CapturingHook, test_settings
from tests.apikeys.support import access_token, create_key, key_app, key_header
from tests.app import User, Users
from tests.conftest import CreateUser, MakeManager, bearer, client_for, csrf_headers


@pytest.fixture
async def client(manager: AuthManager[User]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(key_app(manager)) as c:
        yield c


async def test_create_shows_the_key_once_and_it_works(
    client: httpx.AsyncClient, user: User, events: CapturingHook, manager: AuthManager[User]
) -> None:
    """201 with the key (no-store), usable at once; the list never shows it again."""
    token = await access_token(client)
    created = await create_key(client, token, "CI", scopes=["read"], expires_in_days=30)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    assert set(body) == {"id", "key", "name", "prefix", "scopes", "created_at", "expires_at"}
    assert body["key"].startswith("am_")
    assert body["key"].startswith(body["prefix"])
    assert (body["name"], body["scopes"]) == ("CI", ["read"])
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    used = await client.get("/read", headers=key_header(body["key"]))
    assert used.status_code == 200, used.text
    listed = await client.get("/auth/api-keys", headers=bearer(token))
    assert listed.status_code == 200
    [item] = listed.json()
    assert body["key"] not in listed.text
    assert set(item) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
    }
    assert (item["id"], item["prefix"]) == (body["id"], body["prefix"])
    await manager.drain_events()
    event = events.last(EventName.API_KEY_CREATED)
    assert (event.user_id, event.extra["key_id"]) == (str(user.id), body["id"])
    assert body["key"] not in repr(events.events)


async def test_create_needs_a_fresh_login(client: httpx.AsyncClient, user: User) -> None:
    """A refreshed access token is not fresh: 401 `not_fresh`, nothing created."""
    await access_token(client)
    refreshed = await client.post("/auth/refresh", headers=csrf_headers(client))
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["access_token"]
    response = await create_key(client, token)
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "not_fresh"
    assert (await client.get("/auth/api-keys", headers=bearer(token))).json() == []


async def test_create_refuses_scopes_the_token_lacks(client: httpx.AsyncClient, user: User) -> None:
    """A key cannot outrank its maker: `admin` for a `read` token is 403, nothing created."""
    token = await access_token(client)
    response = await create_key(client, token, scopes=["read", "admin"])
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"
    assert (await client.get("/auth/api-keys", headers=bearer(token))).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "   "},
        {"name": "ok", "scopes": "read"},
        {"name": "ok", "scopes": ["re ad"]},
        {"name": "ok", "expires_in_days": 0},
        {"name": "ok", "expires_in_days": 400},
        {"name": "ok", "other": 1},
        {"name": "line\nbreak"},
    ],
)
async def test_create_refuses_bad_input_with_422(
    client: httpx.AsyncClient, user: User, body: dict[str, object]
) -> None:
    """Bad names, scopes, lifetimes or fields: 422 `invalid_request`, nothing stored."""
    token = await access_token(client)
    response = await client.post("/auth/api-keys", json=body, headers=bearer(token))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert (await client.get("/auth/api-keys", headers=bearer(token))).json() == []


async def test_create_past_the_cap_is_409(
    make_manager: MakeManager, create_user: CreateUser
) -> None:
    """With `api_keys_max_per_user=2`, the third key is 409 `too_many_api_keys`."""
    manager = make_manager(api_keys_max_per_user=2)
    await create_user()
    async with client_for(key_app(manager)) as client:
        token = await access_token(client)
        for name in ("a", "b"):
            assert (await create_key(client, token, name)).status_code == 201
        third = await create_key(client, token, "c")
    assert third.status_code == 409, third.text
    assert third.json() == {
        "detail": "The user already has 2 API keys; revoke one first.",
        "error": "invalid_request",
        "reason": "too_many_api_keys",
    }


async def test_delete_revokes_mine_and_404s_otherwise(
    client: httpx.AsyncClient, manager: AuthManager[User], user: User, create_user: CreateUser
) -> None:
    """204 for my key (refused next request), 404 again, 404 for someone else's key."""
    other = await create_user("bob@example.com")
    theirs = await manager.create_api_key(str(other.id), name="bob's", scopes=["read"])
    token = await access_token(client)
    body = (await create_key(client, token, scopes=["read"])).json()
    deleted = await client.delete(f"/auth/api-keys/{body['id']}", headers=bearer(token))
    assert deleted.status_code == 204, deleted.text
    assert (await client.get("/read", headers=key_header(body["key"]))).status_code == 401
    again = await client.delete(f"/auth/api-keys/{body['id']}", headers=bearer(token))
    assert again.status_code == 404
    assert again.json() == {"detail": "No such API key."}
    foreign = await client.delete(f"/auth/api-keys/{theirs.id}", headers=bearer(token))
    assert foreign.status_code == 404
    assert (await client.get("/read", headers=key_header(theirs.key))).status_code == 200


async def test_a_key_cannot_manage_keys(client: httpx.AsyncClient, user: User) -> None:
    """The key routes take access tokens only: a key gets 401 `wrong_credential`."""
    token = await access_token(client)
    body = (await create_key(client, token, scopes=["read"])).json()
    headers = bearer(body["key"])
    for response in (
        await client.get("/auth/api-keys", headers=headers),
        await client.post("/auth/api-keys", json={"name": "more"}, headers=headers),
        await client.delete(f"/auth/api-keys/{body['id']}", headers=headers),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["reason"] == "wrong_credential"


async def test_routes_need_a_token(client: httpx.AsyncClient) -> None:
    """Without credentials every key route is 401."""
    assert (await client.get("/auth/api-keys")).status_code == 401
    assert (await client.post("/auth/api-keys", json={"name": "x"})).status_code == 401
    assert (await client.delete("/auth/api-keys/abc")).status_code == 401


async def test_routes_fail_closed_when_the_database_is_down(
    manager: AuthManager[User], user: User, client: httpx.AsyncClient, database: str, tmp_path: Path
) -> None:
    """A dead store: the key routes answer 503 and a good key is refused (never a pass)."""
    key = await manager.create_api_key(str(user.id), name="k", scopes=["read"])
    token = await access_token(client)
    if database.startswith("sqlite"):
        path = tmp_path / "corrupt.db"
        path.write_bytes(b"not an SQLite database file" * 256)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = "postgresql+asyncpg://authmanager:authmanager@127.0.0.1:1/authmanager"
    engine = create_async_engine(url)
    dead = AuthManager(
        settings=test_settings(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=Users(),
    )
    try:
        async with client_for(key_app(dead)) as broken:
            answers = [
                await broken.get("/auth/api-keys", headers=bearer(token)),
                await broken.post("/auth/api-keys", json={"name": "x"}, headers=bearer(token)),
                await broken.get("/read", headers=key_header(key.key)),
                await broken.get("/key-user", headers=key_header(key.key)),
            ]
        with pytest.raises(TokenStoreUnavailableError):
            await dead.create_api_key(str(user.id), name="x")
        with pytest.raises(TokenStoreUnavailableError):
            await dead.verify_api_key(key.key)
    finally:
        await engine.dispose()
    for response in answers:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert "Traceback" not in response.text
