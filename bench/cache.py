"""Workloads 6 and 7: the state cache under churn, and refresh against a non-rotating one."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.app import PASSWORD, make_app, make_manager
from bench.db import add_user
from bench.harness import interleaved, ms, summary

Results = dict[str, Any]


# --- 6. churn: hit rate while sessions are revoked ----------------------------------------
async def churn(engine: AsyncEngine, quick: bool) -> Results:
    """10,000 live sessions, 50 revocations a second, verifications as fast as they go.

    Misses are counted from the outside: every state read is a SELECT on
    `authmanager_tokens` seen by the engine; a verification that sends none is a hit.
    """
    sessions, rate, seconds = (2_000, 50, 5.0) if quick else (10_000, 50, 20.0)
    auth = make_manager(engine, bcrypt_rounds=4)
    uid = await add_user(engine, "churn@example.com", await auth.hash_password_async(PASSWORD))
    claims = {"sub": str(uid)}
    live = [(await auth.create_token_pair(claims)).access_token for _ in range(sessions)]
    for token in live:  # warm: every state cached once
        await auth.verify_token(token)
    reads = 0

    def on_execute(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        nonlocal reads
        if statement.lstrip().upper().startswith("SELECT") and "authmanager_tokens" in statement:
            reads += 1

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    verified = refused = revoked = 0
    stop = time.monotonic() + seconds
    rng = random.Random(6)

    async def revoke_one(index: int) -> None:
        nonlocal revoked
        payload = await auth.verify_token(live[index])
        await auth.revoke_session(str(uid), payload.sid)
        live[index] = (await auth.create_token_pair(claims)).access_token
        revoked += 1

    async def revoker() -> None:
        # Each tenth of a second, a tenth of the rate, concurrently (as many clients
        # logging out would), so the rate holds while the readers keep the CPU busy.
        while time.monotonic() < stop:
            began = time.monotonic()
            picks = rng.sample(range(len(live)), rate // 10)
            await asyncio.gather(*(revoke_one(index) for index in picks))
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - began)))

    async def reader() -> None:
        nonlocal verified, refused
        while time.monotonic() < stop:
            try:
                await auth.verify_token(live[rng.randrange(len(live))])
                verified += 1
            except Exception:  # a token revoked between the pick and the check
                refused += 1
            # A cache hit awaits nothing: yield after every check, or the revoker's
            # database calls would wait behind whole batches of checks (and the
            # workload would measure a revocation rate far below 50 a second).
            await asyncio.sleep(0)

    started = time.monotonic()
    await asyncio.gather(revoker(), reader(), reader())
    elapsed = time.monotonic() - started
    event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
    checks = verified + refused
    # The revoker's own verifications (to find each session) count as checks too.
    checks += revoked
    hit_rate = 1 - reads / checks if checks else 0.0
    print("\n[6] state cache under churn")
    print(
        f"  {sessions} live sessions, {revoked / elapsed:.0f} revocations/s, "
        f"{checks / elapsed:.0f} checks/s: {reads} state reads, hit rate {hit_rate:.1%}"
    )
    await auth.aclose()
    return {
        "sessions": sessions,
        "revocations_per_s": revoked / elapsed,
        "checks_per_s": checks / elapsed,
        "hit_rate": hit_rate,
    }


# --- 7. refresh: rotation against a refresh that does not rotate -------------------------
def _asgi_post(app: Any, path: str, body: dict[str, str]) -> Any:
    payload = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    chunks: list[bytes] = []
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    async def call() -> tuple[int, bytes]:
        await app(dict(scope), receive, send)
        return status, b"".join(chunks)

    return call


async def refresh(engine: AsyncEngine, quick: bool) -> Results:
    """`POST /auth/refresh` (rotation, reuse detection) vs a stateless non-rotating refresh."""
    auth = make_manager(engine, bcrypt_rounds=4, refresh_token_transport="body")
    app = make_app(auth)
    uid = await add_user(engine, "refresh@example.com", await auth.hash_password_async(PASSWORD))
    pair = await auth.create_token_pair({"sub": str(uid)})
    current = {"rotating": pair.refresh_token}
    stateless_body = {"refresh_token": pair.refresh_token}

    async def rotating() -> int:
        status, body = await _asgi_post(
            app, "/auth/refresh", {"refresh_token": current["rotating"]}
        )()
        if status == 200:
            current["rotating"] = json.loads(body)["refresh_token"]
        return status

    async def stateless() -> int:
        status, _ = await _asgi_post(app, "/stateless-refresh", stateless_body)()
        return status

    rounds, per_round = (6, 100) if quick else (20, 150)
    samples = await interleaved(
        {"stateless refresh (no rotation)": stateless, "authmanager refresh (rotation)": rotating},
        rounds=rounds,
        per_round=per_round,
        warmup=50,
    )
    print("\n[7] refresh through the ASGI app")
    meds: dict[str, float] = {}
    for name, values in samples.items():
        med, tail = summary(values)
        meds[name] = med
        print(f"  {name:<34} median {ms(med)}   p99 {ms(tail)}   n={len(values)}")
    ratio = meds["authmanager refresh (rotation)"] / meds["stateless refresh (no rotation)"]
    print(f"  rotation / no rotation              {ratio:5.2f}")
    await auth.aclose()
    return {"medians": meds, "ratio": ratio}
