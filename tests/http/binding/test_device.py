"""Device binding: device id in the session and tokens; User-Agent and network policies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User, make_app
from tests.conftest import MakeManager, bearer, login
from tests.support.rows import session_row
from tests.support.tokens import claims

MISMATCH = "The token is bound to another device."


def dev(device: str, token: str | None = None) -> dict[str, str]:
    headers = {"X-Device-Id": device}
    return {**headers, **bearer(token)} if token else headers


async def test_login_device_id_is_stored_and_put_in_tokens(
    client: httpx.AsyncClient, user: User, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A login's X-Device-Id lands on the session row and in both tokens as `did`."""
    body = (await login(client, headers=dev("phone-1"))).json()
    access, refresh = claims(body["access_token"]), claims(body["refresh_token"])
    assert access["did"] == refresh["did"] == "phone-1"
    assert (await session_row(session_factory, access["sid"])).device_id == "phone-1"
    me = await client.get("/me", headers=dev("phone-1", body["access_token"]))
    assert me.status_code == 200


@pytest.mark.parametrize("sent", [{"X-Device-Id": "laptop-9"}, {}], ids=["other", "missing"])
async def test_request_from_other_device_is_refused_and_reported(
    client: httpx.AsyncClient,
    user: User,
    manager: AuthManager[User],
    events: CapturingHook,
    sent: dict[str, str],
) -> None:
    """A bound token with another device id, or none, is 401 and a device.mismatch event."""
    token = (await login(client, headers=dev("phone-1"))).json()["access_token"]
    response = await client.get("/me", headers={**sent, **bearer(token)})
    assert response.status_code == 401
    assert response.json() == {"detail": MISMATCH}
    await manager.drain_events()
    event = events.last("device.mismatch")
    assert event.reason == "device_mismatch"
    assert event.user_id == str(user.id)
    assert event.session_id == claims(token)["sid"]
    assert event.extra == {"check": "device_id", "policy": "refuse"}


async def test_login_form_field_device_id_binds_like_header(
    client: httpx.AsyncClient, user: User
) -> None:
    """The form field `device_id` binds the session; a differing header at login is refused."""
    form = {"username": user.email, "password": "correct horse battery staple"}
    body = (await client.post("/auth/login", data={**form, "device_id": "tv-3"})).json()
    assert claims(body["access_token"])["did"] == "tv-3"
    clash = await client.post(
        "/auth/login", data={**form, "device_id": "tv-3"}, headers=dev("tv-4")
    )
    assert clash.status_code == 401
    assert clash.json()["reason"] == "device_mismatch"


async def test_refresh_from_other_device_is_refused_without_consuming(
    client: httpx.AsyncClient, user: User, manager: AuthManager[User], events: CapturingHook
) -> None:
    """A refresh with another device id is 401 device_mismatch; the right device still refreshes."""
    body = (await login(client, headers=dev("phone-1"))).json()
    refresh = {"refresh_token": body["refresh_token"]}
    refused = await client.post("/auth/refresh", json=refresh, headers=dev("laptop-9"))
    assert refused.status_code == 401
    assert refused.json()["reason"] == "device_mismatch"
    assert refused.json()["error"] == "invalid_grant"
    await manager.drain_events()
    assert events.last("device.mismatch").extra["check"] == "device_id"
    ok = await client.post("/auth/refresh", json=refresh, headers=dev("phone-1"))
    assert ok.status_code == 200
    assert claims(ok.json()["access_token"])["did"] == "phone-1"


async def test_unbound_login_ignores_device_headers(client: httpx.AsyncClient, user: User) -> None:
    """Without a device id at login, tokens carry no `did` and any header is accepted."""
    token = (await login(client)).json()["access_token"]
    assert "did" not in claims(token)
    assert (await client.get("/me", headers=dev("anything", token))).status_code == 200


ClientAt = Callable[..., httpx.AsyncClient]


def client_at(app: Any, ip: str, agent: str = "agent-A") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(
        transport=transport, base_url="https://testserver", headers={"User-Agent": agent}
    )


async def test_user_agent_policy_refuse(
    make_manager: MakeManager, user: User, events: CapturingHook
) -> None:
    """With user_agent_policy=refuse, another User-Agent is 401 and reported."""
    auth = make_manager(user_agent_policy="refuse", refresh_token_transport="body")
    app = make_app(auth)
    async with client_at(app, "10.0.0.5") as a, client_at(app, "10.0.0.5", "agent-B") as b:
        token = (await login(a)).json()["access_token"]
        assert "uah" in claims(token)
        assert "agent-A" not in str(claims(token))
        assert (await a.get("/me", headers=bearer(token))).status_code == 200
        refused = await b.get("/me", headers=bearer(token))
        assert refused.status_code == 401
        assert refused.json() == {"detail": "The token is bound to another User-Agent."}
    await auth.drain_events()
    assert events.last("device.mismatch").extra == {"check": "user_agent", "policy": "refuse"}


async def test_user_agent_policy_report_allows_and_reports(
    make_manager: MakeManager, user: User, events: CapturingHook
) -> None:
    """With user_agent_policy=report, another User-Agent passes but is reported."""
    auth = make_manager(user_agent_policy="report")
    app = make_app(auth)
    async with client_at(app, "10.0.0.5") as a, client_at(app, "10.0.0.5", "agent-B") as b:
        token = (await login(a)).json()["access_token"]
        assert (await b.get("/me", headers=bearer(token))).status_code == 200
    await auth.drain_events()
    event = events.last("device.mismatch")
    assert event.extra == {"check": "user_agent", "policy": "report"}
    assert event.user_agent == "agent-B"


async def test_ip_network_policy_refuse_allows_same_network_only(
    make_manager: MakeManager, user: User, events: CapturingHook
) -> None:
    """With ip_network_policy=refuse, the same /24 passes and another network is 401."""
    auth = make_manager(ip_network_policy="refuse", refresh_token_transport="body")
    app = make_app(auth)
    async with (
        client_at(app, "10.0.0.5") as home,
        client_at(app, "10.0.0.77") as neighbour,
        client_at(app, "10.0.1.5") as away,
    ):
        body = (await login(home)).json()
        token = body["access_token"]
        assert claims(token)["ipn"] == "10.0.0.0/24"
        assert (await neighbour.get("/me", headers=bearer(token))).status_code == 200
        refused = await away.get("/me", headers=bearer(token))
        assert refused.status_code == 401
        assert refused.json() == {"detail": "The token is bound to another network."}
        refresh = await away.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
        assert refresh.status_code == 401
        assert refresh.json()["reason"] == "device_mismatch"
    await auth.drain_events()
    assert events.last("device.mismatch").extra == {"check": "ip_network", "policy": "refuse"}


async def test_allow_policies_put_no_agent_or_network_in_tokens(
    client: httpx.AsyncClient, user: User
) -> None:
    """With the default policies (allow) tokens carry neither `uah` nor `ipn`."""
    access = claims((await login(client)).json()["access_token"])
    assert not {"uah", "ipn", "did", "cnf"} & set(access)
