"""Run authmanager's benchmarks: `python bench/run.py [--postgres URL] [--quick]`.

Every workload runs in this one process (workload 2 starts a uvicorn server) on
SQLite and, with `--postgres`, on PostgreSQL. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import apikeys, cache, workloads  # noqa: E402
from bench.db import database  # noqa: E402

ALL = ("1", "2", "3", "4", "5", "6", "7", "8")


async def run_db(kind: str, url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """Every selected workload on one database kind."""
    out: dict[str, Any] = {}
    only = set(args.only)
    print(f"\n===== {kind} =====")
    if only & {"1", "3", "4", "6", "7", "8"} or args.checks:
        async with database(kind, url) as (_, engine):
            if kind == "sqlite":
                out["pragmas"] = await workloads.sqlite_pragmas(engine)
            out["round_trips"] = await workloads.round_trips(engine)
            if "1" in only:
                out["1"] = await workloads.protected_request(engine, args.quick)
            if "3" in only:
                out["3"] = await workloads.event_loop_health(engine, args.quick)
            if "4" in only:
                out["4"] = await workloads.operations(engine, args.quick)
            if "6" in only:
                out["6"] = await cache.churn(engine, args.quick)
            if "7" in only:
                out["7"] = await cache.refresh(engine, args.quick)
            if "8" in only:
                out["8"] = await apikeys.key_verification(engine, args.quick)
    if "2" in only:
        out["2"] = await workloads.real_server(kind, url, args.quick)
    if "5" in only:
        out["5"] = await workloads.store_scale(kind, url, args.quick)
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    print(
        f"authmanager benchmarks: python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {'quick' if args.quick else 'full'} run"
    )
    if args.postgres:
        print(
            "note: PostgreSQL figures are only as durable as the server's settings "
            "(the local CI server runs with fsync=off)"
        )
    started = time.perf_counter()
    results["sqlite"] = await run_db("sqlite", None, args)
    if args.postgres:
        results["postgresql"] = await run_db("postgresql", args.postgres, args)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on this PostgreSQL "
        "(postgresql+asyncpg://...); a scratch database is created and dropped",
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts, fewer rounds")
    parser.add_argument(
        "--only", nargs="+", choices=ALL, default=list(ALL), help="run only these workloads"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    args.checks = True
    for name in list(os.environ):
        if name.startswith(("JWT_", "AUTH_")):
            del os.environ[name]
    warnings.simplefilter("ignore")  # the benchmark secret is fine; keep the tables readable
    os.chdir(ROOT)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    results = asyncio.run(main(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    cli()
