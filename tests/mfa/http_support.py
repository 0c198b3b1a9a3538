"""The second-factor HTTP tests' client: the routes of a real manager, driven as an app would.

`MfaClient` wraps an HTTPS `httpx.AsyncClient` on the test app (`tests.app.make_app`)
whose manager has TOTP (one Fernet key) and passkeys for `https://example.com`; the
software authenticator stands in for the browser and the platform authenticator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from authmanager._core.clock import utcnow
from tests.conftest import PASSWORD, bearer, csrf_headers
from tests.mfa.authenticator import SoftwareAuthenticator
from tests.mfa.support import KEY_OLD, ORIGIN, RP_ID, code_at

#: The settings of the managers under test (keyword arguments of `make_manager`).
MFA_SETTINGS: dict[str, Any] = {
    "mfa_totp_enabled": True,
    "mfa_encryption_keys": [KEY_OLD],
    "webauthn_rp_id": RP_ID,
    "webauthn_origins": [ORIGIN],
}
EMAIL = "alice@example.com"
EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


@dataclass(frozen=True)
class Totp:
    """A confirmed TOTP factor and what its enrollment gave out once."""

    factor_id: str
    secret: str
    recovery_codes: list[str]

    def next_code(self) -> str:
        """The code of the next time step: valid now (±1 step), never used yet."""
        return code_at(self.secret, utcnow() + timedelta(seconds=30))


class MfaClient:
    """The app's HTTP API, one call per route, returning the raw responses."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    # --- signing in ------------------------------------------------------------------
    async def login(self, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
        """POST the password form to /auth/login."""
        return await self.http.post("/auth/login", data={"username": email, "password": password})

    async def token(self, email: str = EMAIL, password: str = PASSWORD) -> str:
        """Log in with the password alone (a user without factors); the access token."""
        response = await self.login(email, password)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def mfa_token(self, email: str = EMAIL, password: str = PASSWORD) -> str:
        """Log in as a user with a factor: the `mfa_token` of the 403."""
        response = await self.login(email, password)
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "mfa_required"
        value: str = response.json()["mfa_token"]
        return value

    async def verify(self, mfa_token: str, **answer: Any) -> httpx.Response:
        """POST `{mfa_token, <answer>}` to /auth/mfa/verify."""
        return await self.http.post("/auth/mfa/verify", json={"mfa_token": mfa_token, **answer})

    async def verify_with_passkey(
        self, mfa_token: str, authenticator: SoftwareAuthenticator
    ) -> httpx.Response:
        """Ask /mfa/passkey-options, sign with *authenticator*, answer /mfa/verify."""
        options = await self.http.post("/auth/mfa/passkey-options", json={"mfa_token": mfa_token})
        assert options.status_code == 200, options.text
        return await self.verify(mfa_token, passkey=authenticator.get(options.json()))

    async def passkey_login(self, authenticator: SoftwareAuthenticator) -> httpx.Response:
        """Passwordless: /passkeys/login/options, the assertion, /passkeys/login."""
        options = await self.http.post("/auth/passkeys/login/options")
        assert options.status_code == 200, options.text
        return await self.http.post("/auth/passkeys/login", json=authenticator.get(options.json()))

    async def refreshed(self) -> str:
        """Refresh through the cookie; the new (not fresh) access token."""
        response = await self.http.post("/auth/refresh", headers=csrf_headers(self.http))
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    # --- factors ---------------------------------------------------------------------
    async def begin_totp(self, token: str, **body: Any) -> httpx.Response:
        return await self.http.post("/auth/factors/totp", json=body or None, headers=bearer(token))

    async def confirm_totp(self, token: str, factor_id: str, code: str) -> httpx.Response:
        return await self.http.post(
            f"/auth/factors/totp/{factor_id}/confirm", json={"code": code}, headers=bearer(token)
        )

    async def enroll_totp(self, token: str) -> Totp:
        """Begin and confirm a TOTP factor with a fresh *token*."""
        begun = await self.begin_totp(token)
        assert begun.status_code == 200, begun.text
        enrollment = begun.json()
        confirmed = await self.confirm_totp(
            token, enrollment["factor_id"], code_at(enrollment["secret"])
        )
        assert confirmed.status_code == 200, confirmed.text
        return Totp(
            enrollment["factor_id"], enrollment["secret"], confirmed.json()["recovery_codes"]
        )

    async def register_passkey(
        self, token: str, authenticator: SoftwareAuthenticator, **params: Any
    ) -> httpx.Response:
        """Registration options with a fresh *token*, then the authenticator's answer."""
        options = await self.http.post("/auth/passkeys/register/options", headers=bearer(token))
        assert options.status_code == 200, options.text
        return await self.http.post(
            "/auth/passkeys/register",
            json=authenticator.create(options.json()),
            params=params,
            headers=bearer(token),
        )

    async def factors(self, token: str) -> list[dict[str, Any]]:
        response = await self.http.get("/auth/factors", headers=bearer(token))
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    async def remove(self, token: str, factor_id: str) -> httpx.Response:
        return await self.http.delete(f"/auth/factors/{factor_id}", headers=bearer(token))

    async def new_recovery_codes(self, token: str) -> httpx.Response:
        return await self.http.post("/auth/factors/recovery-codes", headers=bearer(token))


def session_token(response: httpx.Response) -> str:
    """The access token of a 200 token response (asserting it is one)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    token: str = body["access_token"]
    return token
