"""An OAuth 2.0 client for an authmanager API (Authlib): password grant, automatic refresh."""

from typing import Any

from authlib.integrations.httpx_client import AsyncOAuth2Client

from authmanager import AuthSettings

# --8<-- [start:server]
# The API side: hand the refresh token out in the token response (RFC 6749 §5.1).
settings = AuthSettings(refresh_token_transport="body")
# --8<-- [end:server]

# --8<-- [start:client]
saved: list[dict[str, Any]] = []  # where a real client would persist its tokens


async def save_token(token: dict[str, Any], refresh_token: str | None = None, **_: Any) -> None:
    """Authlib calls this after each automatic refresh; the old refresh token is spent."""
    saved.append(dict(token))


def api_client(base_url: str, **httpx_options: Any) -> AsyncOAuth2Client:
    """An httpx client that signs in with a password and refreshes its tokens by itself."""
    return AsyncOAuth2Client(
        client_id="my-cli",  # a public client: no secret
        token_endpoint_auth_method="none",
        token_endpoint=f"{base_url}/auth/refresh",  # where Authlib refreshes
        update_token=save_token,
        base_url=base_url,
        **httpx_options,
    )


async def sign_in(client: AsyncOAuth2Client, base_url: str, email: str, password: str) -> None:
    """The password grant at /auth/login; Authlib then sends the token with every request."""
    await client.fetch_token(f"{base_url}/auth/login", username=email, password=password)


# --8<-- [end:client]
