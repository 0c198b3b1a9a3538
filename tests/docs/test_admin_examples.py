"""The administrator guide's example runs and does what the guide says (both databases)."""

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


async def test_admin_example_caps_impersonates_and_deactivates(load: Load) -> None:
    """admin_1: five sessions at most; impersonation names the admin; deactivation ends all."""
    mod = load("admin_1")
    await create_tables(mod)
    admin = await add_user(mod, "root@example.com", role="admin")
    user = await add_user(mod)
    async with client_for(mod.app) as client:
        logins = [await _token(client) for _ in range(6)]
        first = await client.get("/whoami", headers=bearer(logins[0]))
        assert first.status_code == 401  # the sixth login ended the least recently used
        root = await _token(client, "root@example.com")
        refused = await client.post(
            f"/admin/users/{admin.id}/impersonate", json={"reason": "x"}, headers=bearer(logins[1])
        )
        assert refused.status_code == 403
        acting = await client.post(
            f"/admin/users/{user.id}/impersonate",
            json={"reason": "ticket 4711"},
            headers=bearer(root),
        )
        assert acting.status_code == 200, acting.text
        token = acting.json()["access_token"]
        whoami = await client.get("/whoami", headers=bearer(token))
        assert whoami.json() == {"user": str(user.id), "acting": str(admin.id)}
        sessions = await client.get("/auth/sessions", headers=bearer(logins[5]))
        marked = [s for s in sessions.json() if s["impersonated_by"] == str(admin.id)]
        assert len(marked) == 1
        done = await client.post(f"/admin/users/{user.id}/deactivate", headers=bearer(root))
        assert done.status_code == 200, done.text
        assert done.json()["revoked"] == 5 * 2 + 1
        for value in (token, logins[5]):
            assert (await client.get("/whoami", headers=bearer(value))).status_code == 401
