"""A native app's side of the ID-token exchange (here in Python with httpx)."""

import secrets
from typing import Any

import httpx


# --8<-- [start:native]
def new_nonce() -> str:
    """A fresh nonce per sign-in: give it to the platform SDK, keep it for the exchange."""
    return secrets.token_urlsafe(32)


async def exchange(
    api: httpx.AsyncClient, provider: str, id_token: str, nonce: str
) -> dict[str, Any]:
    """Trade the SDK's ID token for this API's tokens (the /auth/login answer)."""
    response = await api.post(
        f"/auth/oidc/{provider}/token", json={"id_token": id_token, "nonce": nonce}
    )
    response.raise_for_status()  # 400: refused token or nonce; 403: account refused
    tokens: dict[str, Any] = response.json()
    return tokens  # access_token, expires_in (and refresh_token with the body transport)


# --8<-- [end:native]
