"""A standard OAuth 2.0 client (Authlib) sees `mfa_required` as an error, never as a token."""

from __future__ import annotations

import warnings
from typing import Any

import authlib.deprecate  # installs its own "always" filter; ours must come after it
import httpx
import httpx2
import pytest

with warnings.catch_warnings():
    # Authlib >= 1.9.10 prefers the `httpx2` fork and warns when it falls back to httpx.
    warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from authmanager import AuthManager
from tests.app import User
from tests.conftest import PASSWORD, MakeManager, bearer, client_for
from tests.mfa.conftest import mfa_app
from tests.mfa.http_support import MFA_SETTINGS, MfaClient
from tests.support.tokens import claims

BASE = "https://testserver"


def oauth_client(manager: AuthManager[User]) -> AsyncOAuth2Client:
    """Authlib's httpx client on the test app, a public client (no secret)."""
    return AsyncOAuth2Client(
        client_id="demo-client",
        token_endpoint_auth_method="none",
        transport=httpx2.ASGITransport(app=mfa_app(manager)),
        base_url=BASE,
    )


async def test_authlib_raises_mfa_required_and_finishes_with_the_second_step(
    make_manager: MakeManager, user: User
) -> None:
    """`fetch_token` raises OAuthError("mfa_required"); a compliance hook keeps the 403 body,
    `/mfa/verify` answers with a token response Authlib adopts, and refresh works as usual."""
    manager = make_manager(**MFA_SETTINGS, refresh_token_transport="body")
    async with client_for(mfa_app(manager)) as http:
        totp = await MfaClient(http).enroll_totp(await MfaClient(http).token())
    seen: dict[str, Any] = {}

    def keep_mfa_token(response: httpx.Response) -> httpx.Response:
        if response.status_code == 403:
            seen.update(response.json())
        return response

    async with oauth_client(manager) as client:
        client.register_compliance_hook("access_token_response", keep_mfa_token)
        with pytest.raises(OAuthError) as caught:
            await client.fetch_token(f"{BASE}/auth/login", username=user.email, password=PASSWORD)
        assert client.token is None
        answer = await client.request(
            "POST",
            "/auth/mfa/verify",
            json={"mfa_token": seen["mfa_token"], "code": totp.next_code()},
            withhold_token=True,  # no token yet: the second step is the sign-in
        )
        client.token = answer.json()
        me = await client.get("/sensitive")
        refreshed = await client.refresh_token(f"{BASE}/auth/refresh")
    await manager.aclose()
    assert caught.value.error == "mfa_required"
    assert seen["factors"] == ["totp", "recovery_code"]
    assert answer.status_code == 200, answer.text
    assert me.json()["amr"] == ["pwd", "otp", "mfa"]
    assert claims(refreshed["access_token"])["amr"] == ["pwd", "otp", "mfa"]


async def test_authlib_wrong_password_of_an_mfa_user_is_invalid_grant(
    make_manager: MakeManager, user: User
) -> None:
    """A wrong password never reaches the second step: plain `invalid_grant`."""
    manager = make_manager(**MFA_SETTINGS, refresh_token_transport="body")
    async with client_for(mfa_app(manager)) as http:
        api = MfaClient(http)
        token = await api.token()
        await api.enroll_totp(token)
        assert (await http.get("/auth/factors", headers=bearer(token))).status_code == 200
    async with oauth_client(manager) as client:
        with pytest.raises(OAuthError) as caught:
            await client.fetch_token(f"{BASE}/auth/login", username=user.email, password="wrong")
    await manager.aclose()
    assert caught.value.error == "invalid_grant"
