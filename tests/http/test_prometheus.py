"""PrometheusHook: counters by event and outcome, rejections by reason, verify latency."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from authmanager import AuthManager
from authmanager.hooks import PrometheusHook
from tests.app import User, make_app
from tests.conftest import bearer, client_for, login

MakeManager = Callable[..., AuthManager[User]]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def event(name: str, outcome: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("authmanager_events_total", (("event", name), ("outcome", outcome)))


def rejection(reason: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("authmanager_rejections_total", (("reason", reason),))


VERIFY_COUNT = ("authmanager_verify_seconds_count", ())


async def test_counters_move_in_the_exposition(make_manager: MakeManager, user: User) -> None:
    """Logins, a refusal and token checks show up as counters and histogram counts."""
    metrics = PrometheusHook()
    before = samples(metrics.exposition())
    assert before[VERIFY_COUNT] == 0.0
    manager = make_manager(hooks=[metrics])
    async with client_for(make_app(manager)) as client:
        access = (await login(client)).json()["access_token"]
        assert (await login(client)).status_code == 200
        assert (await login(client, password="wrong password")).status_code == 401
        for _ in range(3):
            assert (await client.get("/me", headers=bearer(access))).status_code == 200
        await manager.revoke_token(access)
        assert (await client.get("/me", headers=bearer(access))).status_code == 401
    await manager.drain_events()
    after = samples(metrics.exposition())
    assert after[event("login.succeeded", "success")] == 2.0
    assert after[event("token.issued", "success")] == 2.0
    assert after[event("token.revoked", "success")] == 1.0
    assert after[event("login.failed", "failure")] == 1.0
    assert after[event("token.rejected", "failure")] == 1.0
    assert after[rejection("bad_credentials")] == 1.0
    assert after[rejection("revoked")] == 1.0
    assert after[VERIFY_COUNT] == 3.0  # successful verifications only
    assert after[("authmanager_verify_seconds_sum", ())] > 0.0


async def test_mounted_metrics_app_serves_the_counters(
    make_manager: MakeManager, user: User
) -> None:
    """`app.mount("/metrics", hook.asgi_app())` serves the same registry as text."""
    metrics = PrometheusHook()
    manager = make_manager(hooks=[metrics])
    app = make_app(manager)
    app.mount("/metrics", metrics.asgi_app())
    async with client_for(app) as client:
        assert (await login(client)).status_code == 200
        await manager.drain_events()
        response = await client.get("/metrics", follow_redirects=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    served = samples(response.text)
    assert served[event("login.succeeded", "success")] == 1.0
    assert served[event("token.issued", "success")] == 1.0
    assert served[VERIFY_COUNT] == 0.0


async def test_two_hooks_keep_separate_registries(make_manager: MakeManager, user: User) -> None:
    """Each PrometheusHook has a private registry: two managers never clash or mix counts."""
    first, second = PrometheusHook(), PrometheusHook()
    one = make_manager(hooks=[first])
    make_manager(hooks=[second])
    async with client_for(make_app(one)) as client:
        assert (await login(client)).status_code == 200
    await one.drain_events()
    assert samples(first.exposition())[event("login.succeeded", "success")] == 1.0
    assert event("login.succeeded", "success") not in samples(second.exposition())
