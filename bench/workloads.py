"""The five workloads of issue 6; each prints its table and returns its figures."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import AuthManager
from bench.app import PASSWORD, ROOT, User, make_app, make_manager
from bench.db import FUTURE, PAST, add_user, bulk_rows, database
from bench.harness import Clock, StatementCounter, asgi_get, interleaved, ms, p99, summary

Results = dict[str, Any]


def _row(label: str, values: list[float]) -> tuple[float, float]:
    med, tail = summary(values)
    print(f"  {label:<34} median {ms(med)}   p99 {ms(tail)}   n={len(values)}")
    return med, tail


async def _user_and_token(
    engine: AsyncEngine, auth: AuthManager[User], email: str = "bench@example.com"
) -> tuple[int, str]:
    hashed = await auth.hash_password_async(PASSWORD)
    uid = await add_user(engine, email, hashed)
    pair = await auth.create_token_pair({"sub": str(uid)})
    return uid, pair.access_token


# --- 1. protected request through the ASGI app -----------------------------------------
async def protected_request(engine: AsyncEngine, quick: bool) -> Results:
    """authmanager (cache on, the default; and off) vs bare, stateless, stateless + user."""
    auth = make_manager(engine, bcrypt_rounds=4)
    _, token = await _user_and_token(engine, auth)
    app = make_app(auth)
    uncached_app = make_app(make_manager(engine, bcrypt_rounds=4, state_cache="off"))
    await _cache_ready(auth, engine, token)
    variants = {
        "bare": asgi_get(app, "/bare", None),
        "stateless (PyJWT decode)": asgi_get(app, "/stateless", token),
        "stateless + user row": asgi_get(app, "/stateless-user", token),
        "authmanager token_data": asgi_get(app, "/token", token),
        "authmanager current_user": asgi_get(app, "/user", token),
        "authmanager token_data, cache off": asgi_get(uncached_app, "/token", token),
        "authmanager current_user, cache off": asgi_get(uncached_app, "/user", token),
    }
    rounds, per_round = (6, 200) if quick else (20, 250)
    samples = await interleaved(variants, rounds=rounds, per_round=per_round)
    print("\n[1] protected request through the ASGI app (direct ASGI call)")
    meds = {name: _row(name, values)[0] for name, values in samples.items()}
    out: Results = {name: summary(values) for name, values in samples.items()}
    stateless, floor_user = meds["stateless (PyJWT decode)"], meds["stateless + user row"]
    for name in [n for n in meds if n.startswith("authmanager")]:
        floor = floor_user if "current_user" in name else stateless
        label = "stateless + user" if "current_user" in name else "stateless"
        out[f"{name} / {label}"] = meds[name] / floor
        print(f"  {name:<38} / {label:<16} {meds[name] / floor:5.2f}")
    await auth.aclose()
    return out


async def _cache_ready(auth: AuthManager[User], engine: AsyncEngine, token: str) -> None:
    """Verify until the state cache serves *token* (on PostgreSQL: its LISTEN is up)."""
    for _ in range(500):
        await auth.verify_token(token)
        with StatementCounter(engine) as sent:
            await auth.verify_token(token)
        if not sent.statements:
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("the state cache did not come up")


async def round_trips(engine: AsyncEngine) -> Results:
    """Count statements and commits of verify_token and create_token_pair."""
    auth = make_manager(engine, bcrypt_rounds=4)
    uid, token = await _user_and_token(engine, auth, "trips@example.com")
    await auth.verify_token(token)
    with StatementCounter(engine) as verify:
        await auth.verify_token(token)
    with StatementCounter(engine) as issue:
        await auth.create_token_pair({"sub": str(uid)})
    print("\n[checks] database round trips")
    print(
        f"  verify_token       : {len(verify.statements)} statement(s) {verify.statements}, "
        f"{verify.commits} commit(s)"
    )
    print(
        f"  create_token_pair  : {len(issue.statements)} statement(s) {issue.statements}, "
        f"{issue.commits} commit(s)"
    )
    if engine.dialect.name == "postgresql":
        print("  (asyncpg sends BEGIN/COMMIT through its own API, not as counted statements;")
        print("   the store's reads run in autocommit, so verify_token sends no BEGIN at all)")
    return {
        "verify": verify.statements,
        "verify_commits": verify.commits,
        "issue": issue.statements,
        "issue_commits": issue.commits,
    }


async def sqlite_pragmas(engine: AsyncEngine) -> Results:
    """Read back the pragmas the manager installs on SQLite connections."""
    make_manager(engine)  # installs the connect hook
    await engine.dispose()  # new connections get it
    async with engine.connect() as conn:
        values = {
            name: (await conn.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    print(f"\n[checks] SQLite pragmas on a pooled connection: {values} (synchronous 1 = NORMAL)")
    return values


# --- 2. over a real server -----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_port(port: int, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("uvicorn did not start")


async def _load_httpx(url: str, token: str | None, seconds: float, concurrency: int) -> float:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    done = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, headers=headers) as client:
        end = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < end:
                response = await client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} answered {response.status_code}")
                done += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.monotonic() - start)


def _load_wrk(url: str, token: str | None, seconds: float, concurrency: int) -> float:
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors on {url}: {out}")
    line = next(x for x in out.splitlines() if x.startswith("Requests/sec"))
    return float(line.split()[1])


async def real_server(kind: str, postgres_url: str | None, quick: bool) -> Results:
    """uvicorn, one worker, loopback; a bounded load generator; requests per second."""
    async with database(kind, postgres_url) as (url, engine):
        auth = make_manager(engine, bcrypt_rounds=4)
        _, token = await _user_and_token(engine, auth)
        port = _free_port()
        env = {**os.environ, "BENCH_DB_URL": url}
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.app:server_app",
                "--factory",
                "--workers",
                "1",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            await _wait_port(port)
            wrk = shutil.which("wrk") is not None
            tool = "wrk -t1 -c16" if wrk else "httpx async client, 16 connections"
            seconds = 2.0 if quick else 4.0
            rounds = 2 if quick else 4
            paths = {"bare": None, "stateless": token, "token": token, "user": token}
            rps: dict[str, list[float]] = {name: [] for name in paths}
            for name, tok in paths.items():  # warm-up
                url_ = f"http://127.0.0.1:{port}/{name}"
                if wrk:
                    _load_wrk(url_, tok, 1, 16)
                else:
                    await _load_httpx(url_, tok, 1.0, 16)
            for r in range(rounds):
                names = list(paths)
                order = names[r % 4 :] + names[: r % 4]
                for name in order:
                    url_ = f"http://127.0.0.1:{port}/{name}"
                    if wrk:
                        value = await asyncio.to_thread(_load_wrk, url_, paths[name], seconds, 16)
                    else:
                        value = await _load_httpx(url_, paths[name], seconds, 16)
                    rps[name].append(value)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)
    print(f"\n[2] real server: uvicorn 1 worker, loopback, load by {tool}")
    out: Results = {"tool": tool}
    for name, values in rps.items():
        med = statistics.median(values)
        out[name] = med
        print(f"  {name:<12} {med:9.0f} req/s  (rounds: {', '.join(f'{v:.0f}' for v in values)})")
    out["token / stateless throughput"] = out["token"] / out["stateless"]
    print(f"  token_data throughput / stateless: {out['token'] / out['stateless']:.2f}")
    return out


# --- 3. event-loop health ------------------------------------------------------------
async def _probe_window(
    call: Any, seconds: float, interval: float, busy: Any | None
) -> list[float]:
    """Open-loop probes every *interval*; latency counts from the scheduled send time."""
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []

    async def probe(scheduled: float) -> None:
        status = await call()
        if status != 200:
            raise RuntimeError(f"probe answered {status}")
        latencies.append(Clock() - scheduled)

    stop = asyncio.Event()
    load = asyncio.create_task(busy(stop)) if busy else None
    start = Clock()
    i = 0
    while True:
        scheduled = start + i * interval
        if scheduled - start > seconds:
            break
        delay = scheduled - Clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(probe(scheduled)))
        i += 1
    await asyncio.gather(*tasks)
    stop.set()
    if load:
        await load
    return latencies


async def event_loop_health(engine: AsyncEngine, quick: bool) -> Results:
    """Probes of /token idle vs while bursts of 4 logins hash at bcrypt cost 12."""
    auth = make_manager(engine)  # default cost 12
    rounds_setting = auth.settings.bcrypt_rounds
    hashed = await auth.hash_password_async(PASSWORD)
    emails = [f"login{i}@example.com" for i in range(4)]
    for email in emails:
        await add_user(engine, email, hashed)
    _, token = await _user_and_token(engine, auth, "probe@example.com")
    call = asgi_get(make_app(auth), "/token", token)
    logins = 0

    async def bursts(stop: asyncio.Event) -> None:
        nonlocal logins
        while not stop.is_set():

            async def one(email: str) -> None:
                user = await auth.authenticate(email, PASSWORD)
                await auth.create_token_pair({"sub": str(user.id)}, fresh=True)

            await asyncio.gather(*(one(e) for e in emails))
            logins += 4

    for _ in range(100):
        await call()
    seconds, interval = (2.0, 0.005) if quick else (4.0, 0.005)
    rounds = 2 if quick else 4
    idle: list[float] = []
    busy: list[float] = []
    started = Clock()
    busy_time = 0.0
    for _ in range(rounds):
        idle += await _probe_window(call, seconds, interval, None)
        t0 = Clock()
        busy += await _probe_window(call, seconds, interval, bursts)
        busy_time += Clock() - t0
    del started
    print(
        f"\n[3] event-loop health: probes every {interval * 1000:.0f} ms, "
        f"bursts of 4 logins at bcrypt cost {rounds_setting}"
    )
    idle_med, idle_p99 = _row("idle probes", idle)
    busy_med, busy_p99 = _row("probes during login bursts", busy)
    ratio = busy_p99 / idle_p99
    print(
        f"  busy p99 / idle p99 = {ratio:.2f}   ({logins} logins, "
        f"{logins / busy_time:.1f} logins/s while probing)"
    )
    return {
        "idle": (idle_med, idle_p99),
        "busy": (busy_med, busy_p99),
        "ratio": ratio,
        "logins_per_s": logins / busy_time,
    }


# --- 4. operations -------------------------------------------------------------------
async def operations(engine: AsyncEngine, quick: bool) -> Results:
    """login (cost 12), refresh with rotation, logout, create_token_pair."""
    auth = make_manager(engine)
    hashed = await auth.hash_password_async(PASSWORD)
    uid = await add_user(engine, "ops@example.com", hashed)
    n_login, n = (5, 100) if quick else (20, 400)
    out: Results = {}
    print("\n[4] operations (sequential, one at a time)")

    async def timed(label: str, count: int, op: Any) -> None:
        for _ in range(3):
            await op()
        values = []
        start = Clock()
        for _ in range(count):
            t0 = Clock()
            await op()
            values.append(Clock() - t0)
        total = Clock() - start
        med, _ = _row(label, values)
        print(f"  {'':<34} {count / total:8.1f} ops/s")
        out[label] = {"median": med, "p99": p99(values), "ops": count / total}

    async def login() -> None:
        user = await auth.authenticate("ops@example.com", PASSWORD)
        await auth.create_token_pair({"sub": str(user.id)}, fresh=True)

    await timed(f"login (bcrypt cost {auth.settings.bcrypt_rounds})", n_login, login)
    await timed("create_token_pair", n, lambda: auth.create_token_pair({"sub": str(uid)}))
    current = [await auth.create_token_pair({"sub": str(uid)})]

    async def refresh() -> None:
        current[0] = await auth.refresh(current[0].refresh_token)

    await timed("refresh (rotation)", n, refresh)
    pairs = [await auth.create_token_pair({"sub": str(uid)}) for _ in range(n + 3)]

    async def logout() -> None:
        pair = pairs.pop()
        await auth.revoke_session(str(uid), pair.session_id)

    await timed("logout (revoke_session)", n, logout)
    return out


# --- 5. store scale ------------------------------------------------------------------
async def store_scale(kind: str, postgres_url: str | None, quick: bool) -> Results:
    """purge_expired over N expired rows; revoke-all of 10k tokens; latency at 1M vs 1k."""
    big_n, user_n = (50_000, 2_000) if quick else (1_000_000, 10_000)
    out: Results = {"rows": big_n}
    async with (
        database(kind, postgres_url) as (_, small_engine),
        database(kind, postgres_url) as (_, big_engine),
    ):
        small = make_manager(small_engine, bcrypt_rounds=4)
        big = make_manager(big_engine, bcrypt_rounds=4)
        _, small_token = await _user_and_token(small_engine, small)
        _, big_token = await _user_and_token(big_engine, big)
        await bulk_rows(small_engine, tokens=1_000, user_id="filler", expires=FUTURE, prefix="s")
        took = await bulk_rows(big_engine, tokens=big_n, user_id="filler", expires=PAST, prefix="b")
        print(f"\n[5] store scale ({kind}); {big_n:,} expired rows inserted in {took:.1f} s")
        variants = {
            "token_data, 1k rows": asgi_get(make_app(small), "/token", small_token),
            f"token_data, {big_n // 1000}k rows": asgi_get(make_app(big), "/token", big_token),
            "current_user, 1k rows": asgi_get(make_app(small), "/user", small_token),
            f"current_user, {big_n // 1000}k rows": asgi_get(make_app(big), "/user", big_token),
        }
        rounds, per_round = (4, 200) if quick else (12, 250)
        samples = await interleaved(variants, rounds=rounds, per_round=per_round)
        meds = {name: _row(name, values)[0] for name, values in samples.items()}
        names = list(meds)
        out["latency"] = {name: summary(v) for name, v in samples.items()}
        out["token ratio"] = meds[names[1]] / meds[names[0]]
        out["user ratio"] = meds[names[3]] / meds[names[2]]
        print(
            f"  big / small: token_data {out['token ratio']:.2f}, "
            f"current_user {out['user ratio']:.2f}"
        )
        t0 = Clock()
        purged = await big.purge_expired()
        out["purge_s"] = Clock() - t0
        out["purged"] = purged
        print(
            f"  purge_expired: {purged:,} rows in {out['purge_s']:.2f} s "
            f"({purged / out['purge_s']:,.0f} rows/s)"
        )
        await bulk_rows(big_engine, tokens=user_n, user_id="heavy", expires=FUTURE, prefix="h")
        t0 = Clock()
        revoked = await big.revoke_all_user_tokens("heavy")
        out["revoke_all_s"] = Clock() - t0
        out["revoked"] = revoked
        print(
            f"  revoke_all_user_tokens: {revoked:,} tokens of one user in "
            f"{out['revoke_all_s'] * 1000:.0f} ms"
        )
        status = await asgi_get(make_app(big), "/token", big_token)()
        assert status == 200, status
    return out
