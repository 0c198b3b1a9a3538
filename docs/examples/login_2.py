"""Logging in from Python: the OAuth 2.0 password grant with httpx."""

import httpx


async def login_and_call(client: httpx.AsyncClient, email: str, password: str) -> dict:
    response = await client.post("/auth/login", data={"username": email, "password": password})
    response.raise_for_status()
    access_token = response.json()["access_token"]
    me = await client.get("/me", headers={"Authorization": f"Bearer {access_token}"})
    me.raise_for_status()
    return me.json()
