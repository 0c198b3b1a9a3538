"""The two-step sign-in from a standard OAuth 2.0 client (Authlib)."""

from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError


# --8<-- [start:authlib]
async def fetch_token_with_code(
    client: AsyncOAuth2Client, token_url: str, username: str, password: str, code: str
) -> dict[str, Any]:
    """The password grant; on `mfa_required`, answer the second step with a TOTP code."""
    second_step: dict[str, Any] = {}

    def keep_mfa_token(response: httpx.Response) -> httpx.Response:
        if response.status_code == 403:  # Authlib raises OAuthError; keep the body first
            second_step.update(response.json())
        return response

    client.register_compliance_hook("access_token_response", keep_mfa_token)
    try:
        token: dict[str, Any] = await client.fetch_token(
            token_url, username=username, password=password
        )
    except OAuthError as exc:
        if exc.error != "mfa_required":
            raise
    else:
        return token  # no second factor on this account
    answer = await client.request(
        "POST",
        token_url.replace("/login", "/mfa/verify"),
        json={"mfa_token": second_step["mfa_token"], "code": code},
        withhold_token=True,  # there is no token yet
    )
    answer.raise_for_status()
    client.token = answer.json()  # Authlib refreshes it from now on as usual
    token = answer.json()
    return token


# --8<-- [end:authlib]
