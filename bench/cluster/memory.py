"""Where a busy worker's memory goes: the cluster's load mix in one process, traced.

`python bench/cluster/memory.py --postgres postgresql+asyncpg://user:pw@host:port/db`

Runs `bench.cluster.app` in process (ASGI, no sockets) on a scratch database created on
that server (and dropped at the end), drives it with the cluster's load mix (eight
users: login, `/me`, refresh, logout), and every `--every` seconds prints the resident
set size next to what `tracemalloc` sees Python allocate. At the end it prints the
allocation sites that grew most since the warm-up. RSS that grows while traced
memory stays flat is the allocator's (arenas, fragmentation), not a Python leak.
Bounded in time (`--minutes`) and requests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx
from sqlalchemy.engine import make_url

from bench.cluster.client import Hosts, Ledger, Mix


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _admin(dsn: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> None:
    base = make_url(args.postgres)
    name = f"am_mem_{uuid.uuid4().hex[:10]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    await _admin(admin, f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    os.environ.update(
        {
            "CLUSTER_DB_URL": url,
            "JWT_SECRET_KEY": "memory-probe-secret-" + "x" * 48,
            "AUTH_REFRESH_TOKEN_TRANSPORT": "body",
            "AUTH_BCRYPT_ROUNDS": "4",
            "AUTH_REFRESH_RATE_LIMIT": args.refresh_limit,
            "AUTH_RATE_LIMIT_STORAGE_URL": args.storage,
            "AUTH_STATE_CACHE": args.state_cache,
        }
    )
    from bench.cluster.app import create, init

    try:
        await init(url, 16)
        app = create()
        async with app.router.lifespan_context(app):
            hosts = Hosts({"a": "http://a"})
            hosts.clients = {
                "a": httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a")
            }
            ledger = Ledger(Path(os.devnull))
            ledger.write = lambda **_: None  # type: ignore[method-assign]
            start = time.monotonic()
            deadline = start + args.minutes * 60
            mix = Mix(hosts, ledger, deadline, args.max_requests, args.pause)
            users = asyncio.gather(*(mix.user(i) for i in range(8)))
            warm: Any = None
            print(
                f"{'t s':>6} {'requests':>9} {'RSS MiB':>8} {'traced MiB':>10} {'objects':>8}",
                flush=True,
            )
            tracemalloc.start(args.frames)
            while not users.done():
                await asyncio.wait([users], timeout=args.every)
                t = time.monotonic() - start
                current, _peak = tracemalloc.get_traced_memory()
                print(
                    f"{t:6.0f} {mix.tally.requests:9d} {rss_mib():8.1f} "
                    f"{current / 2**20:10.2f} {len(gc.get_objects()):8d}",
                    flush=True,
                )
                if warm is None and t >= args.warmup:
                    warm = tracemalloc.take_snapshot()
            await users
            await hosts.aclose()
            if warm is not None:
                last = tracemalloc.take_snapshot()
                print("\nlargest growth since the warm-up (by allocation site):")
                for stat in last.compare_to(warm, "traceback")[: args.top]:
                    print(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
                    for line in stat.traceback.format()[-args.frames * 2 :]:
                        print("    " + line)
            print("\nrequests:", dict(mix.tally.counts))
    finally:
        await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(prog="python bench/cluster/memory.py")
    parser.add_argument("--postgres", required=True, help="a role that may CREATE DATABASE")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--every", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    parser.add_argument("--storage", default="memory://")
    parser.add_argument("--refresh-limit", default="100000/minute")
    parser.add_argument("--state-cache", default="off")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--top", type=int, default=12)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
