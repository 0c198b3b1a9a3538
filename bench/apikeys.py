"""Workload 8: API key verification against access-token verification, in one run.

Issue 18: "Verification of a key costs one indexed query, like an access token's; the
benchmark measures both in the same run and prints the ratio." Both go through the
manager (`verify_api_key`, `verify_token`), called directly (no HTTP), interleaved in
rotating rounds. The like-for-like line compares the key with an access token on a
manager without the state cache (one indexed SELECT each); the token with the default
state cache (no query on a hit) is shown beside it.

    python bench/run.py --only 8 [--postgres URL] [--quick]
    python bench/apikeys.py [--postgres URL] [--quick] [--json FILE]   (the same, alone)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.app import PASSWORD, make_manager  # noqa: E402
from bench.db import add_user, database  # noqa: E402
from bench.harness import StatementCounter, interleaved, ms, summary  # noqa: E402

Call = Callable[[], Awaitable[int]]
KEY = "api key verify_api_key(key)"
ACCESS = "verify_token(access), no cache"
CACHED = "verify_token(access), state cache"


def _ok(verify: Callable[[], Awaitable[object]]) -> Call:
    """Wrap a verification as the harness's zero-argument call answering 200."""

    async def call() -> int:
        await verify()
        return 200

    return call


async def _statements(engine: AsyncEngine, call: Call) -> list[str]:
    await call()
    with StatementCounter(engine) as counter:
        await call()
    return counter.statements


async def key_verification(engine: AsyncEngine, quick: bool) -> dict[str, Any]:
    """Key, access token (no cache) and access token (state cache) on one database."""
    plain = make_manager(engine, bcrypt_rounds=4, state_cache="off")
    cached = make_manager(engine, bcrypt_rounds=4)
    uid = str(await add_user(engine, "keys@example.com", plain.hash_password(PASSWORD)))
    access = (await plain.create_token_pair({"sub": uid})).access_token
    key = (await plain.create_api_key(uid, name="bench", scopes=["read"])).key
    variants: dict[str, Call] = {
        KEY: _ok(lambda: plain.verify_api_key(key)),
        ACCESS: _ok(lambda: plain.verify_token(access)),
        CACHED: _ok(lambda: cached.verify_token(access)),
    }
    counts = {name: await _statements(engine, call) for name, call in variants.items()}
    rounds, per_round = (6, 200) if quick else (20, 500)
    samples = await interleaved(variants, rounds=rounds, per_round=per_round)
    for auth in (plain, cached):
        await auth.aclose()
    print("  8. API key vs access-token verification (direct calls, interleaved)")
    out: dict[str, Any] = {}
    for name, values in samples.items():
        med, tail = summary(values)
        print(f"     {name:<33} median {ms(med)}   p99 {ms(tail)}   SQL {counts[name]}")
        out[name] = {"median": med, "p99": tail, "statements": counts[name]}
    ratio = out[KEY]["median"] / out[ACCESS]["median"]
    out["ratio key / access"] = ratio
    out["ratio key / cached access"] = out[KEY]["median"] / out[CACHED]["median"]
    print(f"     ratio (median) key verification / access-token verification: {ratio:5.2f}")
    print(
        "     ratio (median) key verification / access token with state cache: "
        f"{out['ratio key / cached access']:5.2f}"
    )
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"API key vs access-token verification: python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {'quick' if args.quick else 'full'} run"
    )
    results: dict[str, Any] = {}
    kinds = [("sqlite", None)] + ([("postgresql", args.postgres)] if args.postgres else [])
    for kind, url in kinds:
        print(f"\n===== {kind} =====")
        async with database(kind, url) as (_, engine):
            results[kind] = await key_verification(engine, args.quick)
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith(("JWT_", "AUTH_")):
            del os.environ[name]
    warnings.simplefilter("ignore")  # the benchmark secret is fine; keep the table readable
    results = asyncio.run(main(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    cli()
