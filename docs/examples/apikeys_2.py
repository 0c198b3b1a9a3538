"""A script's side: create a key once with a fresh login, then call the API with it."""

import httpx


# --8<-- [start:client]
async def create_key(client: httpx.AsyncClient, email: str, password: str) -> str:
    """Log in (a fresh login is required) and create a key; it is shown this once."""
    login = await client.post("/auth/login", data={"username": email, "password": password})
    login.raise_for_status()
    token = login.json()["access_token"]
    created = await client.post(
        "/auth/api-keys",
        json={"name": "nightly import", "scopes": ["reports:read"], "expires_in_days": 90},
        headers={"Authorization": f"Bearer {token}"},
    )
    created.raise_for_status()
    key: str = created.json()["key"]  # store it in the script's secret store now
    return key


async def nightly_import(client: httpx.AsyncClient, key: str) -> dict[str, object]:
    """Every later call sends the key: X-API-Key (or Authorization: Bearer <key>)."""
    response = await client.post("/ingest", headers={"X-API-Key": key})
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body


# --8<-- [end:client]
