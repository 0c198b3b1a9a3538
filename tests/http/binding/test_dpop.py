"""DPoP (RFC 9449): tokens bound to the client's key at login, proofs on every use."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import PASSWORD, MakeManager, client_for, login
from tests.support.dpop import DPoPKey
from tests.support.rows import proof_rows, session_row
from tests.support.tokens import claims


async def dpop_login(client: httpx.AsyncClient, key: DPoPKey) -> dict[str, Any]:
    response = await login(client, headers={"DPoP": key.proof("POST", "/auth/login")})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def dpop(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def assert_refused(response: httpx.Response) -> None:
    """401 for a DPoP reason (the router's routes also name the reason and OAuth error)."""
    body = response.json()
    assert response.status_code == 401
    assert "DPoP" in body["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    if "reason" in body:  # authmanager's own routes
        assert body["reason"] == "dpop"
        assert body["error"] in {"invalid_token", "invalid_grant"}


async def test_login_with_proof_binds_both_tokens_and_session_to_key(
    client: httpx.AsyncClient,
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A login with a proof gets token_type DPoP, cnf.jkt in both tokens and on the session."""
    key = DPoPKey()
    body = await dpop_login(client, key)
    assert body["token_type"] == "DPoP"
    access, refresh = claims(body["access_token"]), claims(body["refresh_token"])
    assert access["cnf"] == {"jkt": key.thumbprint}
    assert refresh["cnf"] == {"jkt": key.thumbprint}
    assert (await session_row(session_factory, access["sid"])).dpop_jkt == key.thumbprint
    assert await proof_rows(session_factory) == 1


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
async def test_dpop_client_flow_login_call_refresh_call(
    client: httpx.AsyncClient,
    user: User,
    alg: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A real client: proof at login, bound call, refresh with proof, call with the new token."""
    key = DPoPKey(alg)
    body = await dpop_login(client, key)
    token = body["access_token"]
    me = await client.get("/me", headers=dpop(token, key.proof("GET", "/me", access_token=token)))
    assert me.status_code == 200
    assert me.json() == {"id": user.id, "email": user.email}

    refreshed = await client.post(
        "/auth/refresh",
        json={"refresh_token": body["refresh_token"]},
        headers={"DPoP": key.proof("POST", "/auth/refresh")},
    )
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["token_type"] == "DPoP"
    assert claims(new["access_token"])["cnf"] == {"jkt": key.thumbprint}
    assert claims(new["refresh_token"])["cnf"] == {"jkt": key.thumbprint}
    token2 = new["access_token"]
    again = await client.get(
        "/me", headers=dpop(token2, key.proof("GET", "/me", access_token=token2))
    )
    assert again.status_code == 200
    assert await proof_rows(session_factory) == 4


async def test_bound_token_without_proof_is_refused(
    client: httpx.AsyncClient, user: User, manager: AuthManager[User], events: CapturingHook
) -> None:
    """A bound token with the DPoP scheme but no proof is 401 dpop, reported as token.rejected."""
    body = await dpop_login(client, DPoPKey())
    response = await client.get("/me", headers={"Authorization": f"DPoP {body['access_token']}"})
    assert_refused(response)
    await manager.drain_events()
    rejected = events.last("token.rejected")
    assert rejected.reason == "dpop"
    assert rejected.session_id == claims(body["access_token"])["sid"]


async def test_bound_token_sent_as_bearer_is_refused(client: httpx.AsyncClient, user: User) -> None:
    """A copy of a bound token used as a plain bearer token is refused, proof or not."""
    key = DPoPKey()
    token = (await dpop_login(client, key))["access_token"]
    response = await client.get(
        "/me",
        headers={
            "Authorization": f"Bearer {token}",
            "DPoP": key.proof("GET", "/me", access_token=token),
        },
    )
    assert_refused(response)


async def test_proof_signed_by_another_key_is_refused(
    client: httpx.AsyncClient, user: User
) -> None:
    """A thief with the token but another key cannot use it."""
    token = (await dpop_login(client, DPoPKey()))["access_token"]
    thief = DPoPKey()
    response = await client.get(
        "/me", headers=dpop(token, thief.proof("GET", "/me", access_token=token))
    )
    assert_refused(response)


async def test_replayed_proof_is_refused(client: httpx.AsyncClient, user: User) -> None:
    """The same proof works once; sent again (same jti) it is refused."""
    key = DPoPKey()
    token = (await dpop_login(client, key))["access_token"]
    proof = key.proof("GET", "/me", access_token=token)
    assert (await client.get("/me", headers=dpop(token, proof))).status_code == 200
    assert_refused(await client.get("/me", headers=dpop(token, proof)))


async def test_replayed_proof_is_refused_by_another_worker(
    make_manager: MakeManager, user: User
) -> None:
    """Two managers on one database (two workers) share the replay cache."""
    key = DPoPKey()
    first, second = make_manager(), make_manager()
    async with client_for(make_app(first)) as a, client_for(make_app(second)) as b:
        token = (await dpop_login(a, key))["access_token"]
        proof = key.proof("GET", "/me", access_token=token)
        assert (await a.get("/me", headers=dpop(token, proof))).status_code == 200
        assert_refused(await b.get("/me", headers=dpop(token, proof)))


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/claims"), ("POST", "/me"), ("GET", "https://elsewhere.example/me")],
    ids=["other-path", "other-method", "other-host"],
)
async def test_proof_for_another_request_is_refused(
    client: httpx.AsyncClient, user: User, method: str, path: str
) -> None:
    """A proof made for another URL or method does not authorise GET /me."""
    key = DPoPKey()
    token = (await dpop_login(client, key))["access_token"]
    response = await client.get(
        "/me", headers=dpop(token, key.proof(method, path, access_token=token))
    )
    assert_refused(response)


async def test_proof_ignores_query_but_needs_matching_ath(
    client: httpx.AsyncClient, user: User
) -> None:
    """htu leaves out the query; a proof without ath, or for another token, is refused."""
    key = DPoPKey()
    token = (await dpop_login(client, key))["access_token"]
    ok = await client.get(
        "/me?page=2", headers=dpop(token, key.proof("GET", "/me", access_token=token))
    )
    assert ok.status_code == 200
    assert_refused(await client.get("/me", headers=dpop(token, key.proof("GET", "/me"))))
    assert_refused(
        await client.get("/me", headers=dpop(token, key.proof("GET", "/me", access_token="x.y.z")))
    )


async def test_stale_or_future_proof_is_refused(client: httpx.AsyncClient, user: User) -> None:
    """A proof whose iat is outside the window (60 s plus leeway) is refused."""
    key = DPoPKey()
    token = (await dpop_login(client, key))["access_token"]
    for iat in (time.time() - 600, time.time() + 600):
        proof = key.proof("GET", "/me", access_token=token, iat=iat)
        assert_refused(await client.get("/me", headers=dpop(token, proof)))


@pytest.mark.parametrize(
    "change",
    [
        {"header": {"typ": "JWT"}},
        {"header": {"jwk": {"kty": "oct", "k": "c2VjcmV0"}}},
        {"private_member": True},
        {"extra": {"htm": None}},
    ],
    ids=["wrong-typ", "symmetric-jwk", "private-jwk", "no-htm"],
)
async def test_malformed_proof_at_login_is_refused(
    client: httpx.AsyncClient,
    user: User,
    change: dict[str, Any],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Login refuses a proof with a wrong typ, a non-public or symmetric key, or missing htm."""
    key = DPoPKey()
    header = dict(change.get("header", {}))
    if change.get("private_member"):
        header["jwk"] = {**key.jwk, "d": "AAAA"}
    extra = {k: v for k, v in change.get("extra", {}).items() if v is not None}
    proof = key.proof("POST", "/auth/login", header=header, extra=extra)
    if "htm" in change.get("extra", {}):
        import jwt as pyjwt

        body = claims(proof)
        del body["htm"]
        proof = pyjwt.encode(
            body, key.private, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": key.jwk}
        )
    response = await login(client, headers={"DPoP": proof})
    assert_refused(response)
    assert await proof_rows(session_factory) == 0


async def test_hs256_proof_is_refused(client: httpx.AsyncClient, user: User) -> None:
    """Only the asymmetric algorithms are accepted: an HMAC-signed proof is refused."""
    import jwt as pyjwt

    body = {
        "jti": "j1",
        "htm": "POST",
        "htu": "https://testserver/auth/login",
        "iat": int(time.time()),
    }
    proof = pyjwt.encode(
        body,
        "s" * 32,
        algorithm="HS256",
        headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "c3Nzcw"}},
    )
    assert_refused(await login(client, headers={"DPoP": proof}))


async def test_refresh_of_bound_token_needs_proof_with_same_key(
    client: httpx.AsyncClient, user: User
) -> None:
    """Refresh without a proof or with another key's proof is refused and consumes nothing."""
    key = DPoPKey()
    body = await dpop_login(client, key)
    refresh = {"refresh_token": body["refresh_token"]}
    no_proof = await client.post("/auth/refresh", json=refresh)
    assert_refused(no_proof)
    other = await client.post(
        "/auth/refresh", json=refresh, headers={"DPoP": DPoPKey().proof("POST", "/auth/refresh")}
    )
    assert_refused(other)
    good = await client.post(
        "/auth/refresh", json=refresh, headers={"DPoP": key.proof("POST", "/auth/refresh")}
    )
    assert good.status_code == 200


async def test_unbound_token_keeps_working_as_bearer_but_not_as_dpop(
    client: httpx.AsyncClient, user: User
) -> None:
    """Without a proof at login, tokens are plain bearer; the DPoP scheme is refused for them."""
    body = (await login(client)).json()
    assert body["token_type"] == "bearer"
    assert "cnf" not in claims(body["access_token"])
    token = body["access_token"]
    ok = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    key = DPoPKey()
    assert_refused(
        await client.get("/me", headers=dpop(token, key.proof("GET", "/me", access_token=token)))
    )


async def test_dpop_required_refuses_login_without_proof_and_unbound_tokens(
    make_manager: MakeManager, user: User, manager: AuthManager[User]
) -> None:
    """With dpop_required, a login needs a proof and a bearer-only token is refused."""
    strict = make_manager(dpop_required=True, refresh_token_transport="body")
    unbound = await manager.create_access_token({"sub": str(user.id)})
    async with client_for(make_app(strict)) as c:
        assert_refused(await login(c))
        assert_refused(await c.get("/me", headers={"Authorization": f"Bearer {unbound}"}))
        key = DPoPKey()
        body = await dpop_login(c, key)
        token = body["access_token"]
        me = await c.get("/me", headers=dpop(token, key.proof("GET", "/me", access_token=token)))
        assert me.status_code == 200


async def test_fresh_route_mints_bound_token_for_bound_session(
    client: httpx.AsyncClient, user: User
) -> None:
    """POST /auth/fresh on a bound session needs a proof and answers a DPoP token."""
    key = DPoPKey()
    token = (await dpop_login(client, key))["access_token"]
    response = await client.post(
        "/auth/fresh",
        data={"password": PASSWORD},
        headers=dpop(token, key.proof("POST", "/auth/fresh", access_token=token)),
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    fresh = response.json()["access_token"]
    assert claims(fresh)["cnf"] == {"jkt": key.thumbprint}
    assert claims(fresh)["fresh"] is True
