"""The state cache's memory: expired states go as new ones come, so a long run plateaus.

Pure logic on a process-local slot table (no database): the cache keeps about
(tokens verified per second x TTL) states, not its size limit (issue 19's soak).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from authmanager._core.rows import TokenState
from authmanager._core.slots import SlotTable
from authmanager._core.statecache import StateCache
from authmanager._core.tokens import TokenPayload

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def payload(jti: str) -> TokenPayload:
    return TokenPayload.from_claims(
        {
            "sub": "u1",
            "jti": jti,
            "sid": "s1",
            "type": "access",
            "exp": int((NOW + timedelta(minutes=15)).timestamp()),
            "iat": int(NOW.timestamp()),
        }
    )


def state() -> TokenState:
    return TokenState(
        type="access",
        user_id="u1",
        session_id="s1",
        revoked_at=None,
        session_revoked_at=None,
        session_expires_at=NOW + timedelta(days=1),
        session_created_at=NOW,
        revoked_before=None,
        kept_session_id=None,
        fresh_until=None,
        device_id=None,
    )


def keep(cache: StateCache, jti: str) -> None:
    mark = cache.mark(payload(jti))
    assert mark is not None
    cache.store(jti, mark, state())


def test_expired_states_are_dropped_when_new_ones_come() -> None:
    cache = StateCache(SlotTable(None), ttl=0.2, size=10_000, dsn=None)
    for i in range(500):
        keep(cache, f"old-{i}")
    assert len(cache) == 500
    time.sleep(0.25)
    keep(cache, "new")
    assert len(cache) == 1
    assert cache.lookup(payload("new")) is not None
    assert cache.lookup(payload("old-0")) is None


def test_a_state_kept_again_moves_to_the_back() -> None:
    """Re-keeping a token renews its deadline; it is not dropped with its old neighbours."""
    cache = StateCache(SlotTable(None), ttl=0.3, size=10_000, dsn=None)
    keep(cache, "a")
    keep(cache, "b")
    time.sleep(0.2)
    keep(cache, "a")  # renewed: lives 0.3 s from now
    time.sleep(0.15)
    keep(cache, "c")  # "b" has expired; "a" has not
    assert cache.lookup(payload("a")) is not None
    assert cache.lookup(payload("b")) is None
    assert len(cache) == 2


def test_the_size_limit_still_holds_within_the_ttl() -> None:
    cache = StateCache(SlotTable(None), ttl=60, size=100, dsn=None)
    for i in range(250):
        keep(cache, f"t-{i}")
    assert len(cache) == 100
    assert cache.lookup(payload("t-249")) is not None
    assert cache.lookup(payload("t-0")) is None
