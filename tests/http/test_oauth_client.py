"""An off-the-shelf OAuth 2.0 client (Authlib) speaks to /login and /refresh unchanged."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import authlib.deprecate  # installs its own "always" filter; ours must come after it
import httpx2
import pytest

with warnings.catch_warnings():
    # Authlib >= 1.9.10 is built on the `httpx2` fork (in the test extra, for the `oidc`
    # extra) and warns when it falls back to httpx; the filter keeps either working.
    warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from authmanager import AuthManager
from tests.app import User, make_app
from tests.conftest import PASSWORD
from tests.support.tokens import claims

BASE = "https://testserver"


def oauth_client(manager: AuthManager[User]) -> AsyncOAuth2Client:
    """Authlib's httpx client on the test app, for a public client (no secret)."""
    return AsyncOAuth2Client(
        client_id="demo-client",
        token_endpoint_auth_method="none",
        transport=httpx2.ASGITransport(app=make_app(manager)),
        base_url=BASE,
    )


async def test_authlib_password_and_refresh_grants(
    make_manager: Callable[..., AuthManager[User]], user: User
) -> None:
    """Authlib's `fetch_token` (password grant) and `refresh_token` work with body transport."""
    manager = make_manager(refresh_token_transport="body")
    async with oauth_client(manager) as client:
        token = await client.fetch_token(
            f"{BASE}/auth/login", username=user.email, password=PASSWORD
        )
        assert token["token_type"] == "bearer"
        assert claims(token["access_token"])["sub"] == str(user.id)
        me = await client.get("/me")  # Authlib adds the bearer header itself
        assert me.json() == {"id": user.id, "email": user.email}

        first_refresh = token["refresh_token"]
        new = await client.refresh_token(f"{BASE}/auth/refresh", refresh_token=first_refresh)
        assert new["refresh_token"] != first_refresh
        assert claims(new["access_token"])["sid"] == claims(token["access_token"])["sid"]
        assert (await client.get("/me")).status_code == 200
        newer = await client.refresh_token(
            f"{BASE}/auth/refresh", refresh_token=new["refresh_token"]
        )
        assert newer["refresh_token"] != new["refresh_token"]

        # The first token's successor has moved on: presenting it again is refused.
        with pytest.raises(OAuthError) as reused:
            await client.refresh_token(f"{BASE}/auth/refresh", refresh_token=first_refresh)
        assert reused.value.error == "invalid_grant"


async def test_authlib_sees_invalid_grant(
    make_manager: Callable[..., AuthManager[User]], user: User
) -> None:
    """A wrong password reaches Authlib as the RFC 6749 `invalid_grant` error."""
    manager = make_manager(refresh_token_transport="body")
    async with oauth_client(manager) as client:
        with pytest.raises(OAuthError) as caught:
            await client.fetch_token(f"{BASE}/auth/login", username=user.email, password="wrong")
        assert caught.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as refresh_caught:
            await client.refresh_token(f"{BASE}/auth/refresh", refresh_token="not-a-token")
        assert refresh_caught.value.error == "invalid_grant"
