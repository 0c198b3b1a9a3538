"""OAuth 2.0 clients see real errors: RFC 6749 codes and statuses, with `error_description`."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import authlib.deprecate  # installs its own "always" filter; ours must come after it
import httpx
import httpx2
import pytest

with warnings.catch_warnings():
    # Authlib >= 1.9.10 prefers the `httpx2` fork and warns when it falls back to httpx.
    warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from authmanager import AuthManager
from tests.app import User, make_app
from tests.conftest import PASSWORD

BASE = "https://testserver"
MakeManager = Callable[..., AuthManager[User]]


def _client(manager: AuthManager[User], **options: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id="cli",
        token_endpoint_auth_method="none",
        # Authlib is built on httpx2 (in the test extra, for the `oidc` extra): its transport.
        transport=httpx2.ASGITransport(app=make_app(manager)),
        base_url=BASE,
        **options,
    )


async def test_refresh_grant_at_login_is_400_unsupported_grant_type(
    client: httpx.AsyncClient, user: User
) -> None:
    """`grant_type=refresh_token` at /login: 400 `unsupported_grant_type`, naming /refresh."""
    response = await client.post(
        "/auth/login", data={"grant_type": "refresh_token", "refresh_token": "x"}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "unsupported_grant_type"
    assert "/auth/refresh" in body["error_description"]
    assert response.headers["cache-control"] == "no-store"


async def test_every_grant_error_carries_an_ascii_error_description(
    client: httpx.AsyncClient, user: User
) -> None:
    """401, 400 and 422 answers of the token routes all have RFC 6749's `error_description`."""
    answers = [
        await client.post("/auth/login", data={"username": user.email, "password": "wrong"}),
        await client.post("/auth/login", data={"grant_type": "client_credentials"}),
        await client.post("/auth/login", data={"username": user.email}),
        await client.post("/auth/refresh", json={"token": "x"}),  # quotes in its message
        await client.post("/auth/refresh", json={"refresh_token": "not-a-token"}),
    ]
    assert [a.status_code for a in answers] == [401, 400, 422, 422, 401]
    for answer in answers:
        description = answer.json()["error_description"]
        assert description
        assert all(" " <= c <= "~" and c not in '"\\' for c in description), description
    assert PASSWORD not in "".join(a.text for a in answers)


async def test_authlib_errors_have_a_message(make_manager: MakeManager, user: User) -> None:
    """Authlib's OAuthError reads `invalid_grant: Incorrect login or password.`, not blank."""
    manager = make_manager(refresh_token_transport="body")
    async with _client(manager) as client:
        with pytest.raises(OAuthError) as wrong:
            await client.fetch_token(f"{BASE}/auth/login", username=user.email, password="no")
        with pytest.raises(OAuthError) as refresh_at_login:
            await client.refresh_token(f"{BASE}/auth/login", refresh_token="x")
    assert str(wrong.value) == "invalid_grant: Incorrect login or password."
    assert refresh_at_login.value.error == "unsupported_grant_type"
    assert "/auth/refresh" in (refresh_at_login.value.description or "")
