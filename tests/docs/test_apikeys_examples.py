"""The API key guide's examples run and do what the guide says (both databases)."""

from __future__ import annotations

import httpx

from tests.conftest import PASSWORD, bearer, client_for
from tests.support.docs import Load, add_user, create_tables

EMAIL = "ada@example.com"


async def _token(client: httpx.AsyncClient, email: str = EMAIL) -> str:
    response = await client.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_api_key_examples_serve_scripts_and_people(load: Load) -> None:
    """apikeys_2 creates a key over HTTP; apikeys_1 takes it on /ingest, /reports and /me;
    once revoked, it is refused."""
    app_module = load("apikeys_1")
    client_module = load("apikeys_2")
    await create_tables(app_module)
    user = await add_user(app_module)
    async with client_for(app_module.app) as client:
        key = await client_module.create_key(client, EMAIL, PASSWORD)
        assert key.startswith("am_")
        assert await client_module.nightly_import(client, key) == {"accepted_for": user.id}
        token = await _token(client)
        by_key = await client.get("/reports", headers={"X-API-Key": key})
        by_token = await client.get("/reports", headers=bearer(token))
        me = await client.get("/me", headers=bearer(key))
        token_at_ingest = await client.post("/ingest", headers=bearer(token))
        listed = await client.get("/auth/api-keys", headers=bearer(token))
        key_id = listed.json()[0]["id"]
        revoked = await client.delete(f"/auth/api-keys/{key_id}", headers=bearer(token))
        after = await client.post("/ingest", headers={"X-API-Key": key})
    assert by_key.json() == {"owner": str(user.id), "via": "api key"}
    assert by_token.json() == {"owner": str(user.id), "via": "access token"}
    assert me.json() == {"id": user.id, "email": EMAIL}
    assert token_at_ingest.status_code == 401
    assert token_at_ingest.json()["reason"] == "wrong_credential"
    [item] = listed.json()
    assert (item["name"], item["scopes"]) == ("nightly import", ["reports:read"])
    assert key not in listed.text
    assert revoked.status_code == 204
    assert after.status_code == 401  # refused from the next request on
