"""API key verification against access-token verification: `python bench/apikeys.py`.

Issue 18: "Verification of a key costs one indexed query, like an access token's; the
benchmark measures both in the same run and prints the ratio." Both are called
directly (no HTTP), interleaved in rotating rounds, on SQLite and, with
`--postgres URL`, on PostgreSQL (a scratch database is created and dropped).

    python bench/apikeys.py [--postgres postgresql+asyncpg://...] [--quick] [--json FILE]
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

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from authmanager import SQLAlchemyUserLoader  # noqa: E402
from authmanager._core.database import Database  # noqa: E402
from authmanager._core.events import HookDispatcher  # noqa: E402
from authmanager.apikeys import (  # noqa: E402
    ApiKeyService,
    ApiKeyStore,
    ApiKeyVerifier,
    KeyFormat,
    UsageRecorder,
)
from bench.app import PASSWORD, User, make_manager  # noqa: E402
from bench.db import add_user, database  # noqa: E402
from bench.harness import StatementCounter, interleaved, ms, summary  # noqa: E402

Call = Callable[[], Awaitable[int]]


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


async def run_db(kind: str, url: str | None, quick: bool) -> dict[str, Any]:
    """Both verifications on one database kind; print the table and return the figures."""
    async with database(kind, url) as (_, engine):
        auth = make_manager(engine, bcrypt_rounds=4)
        uid = str(await add_user(engine, "bench@example.com", auth.hash_password(PASSWORD)))
        access = (await auth.create_token_pair({"sub": uid})).access_token

        # Built as the composition root will build them, on the manager's engine.
        db = Database(async_sessionmaker(engine, expire_on_commit=False))
        store, key_format = ApiKeyStore(), KeyFormat(auth.settings.api_key_prefix)
        events = HookDispatcher([], timeout=2.0)
        recorder = UsageRecorder(database=db, store=store)
        service = ApiKeyService(
            database=db, store=store, key_format=key_format, events=events, settings=auth.settings
        )
        verifier = ApiKeyVerifier(
            database=db,
            store=store,
            key_format=key_format,
            recorder=recorder,
            events=events,
            users=SQLAlchemyUserLoader(User, login_field="email"),
        )
        key = (await service.create_api_key(uid, name="bench", scopes=["read"])).key

        variants: dict[str, Call] = {
            "verify_token(access)": _ok(lambda: auth.verify_token(access)),
            "api key verify(key)": _ok(lambda: verifier.verify(key)),
        }
        counts = {name: await _statements(engine, call) for name, call in variants.items()}
        rounds, per_round = (6, 200) if quick else (20, 500)
        samples = await interleaved(variants, rounds=rounds, per_round=per_round)
        await recorder.aclose()

    print(f"\n===== {kind} =====")
    out: dict[str, Any] = {}
    for name, values in samples.items():
        med, tail = summary(values)
        verbs = [s.split(None, 1)[0].upper() for s in counts[name]]
        print(f"  {name:<24} median {ms(med)}   p99 {ms(tail)}   n={len(values)}   SQL {verbs}")
        out[name] = {"median": med, "p99": tail, "statements": verbs}
    ratio = out["api key verify(key)"]["median"] / out["verify_token(access)"]["median"]
    out["ratio key / access"] = ratio
    print(f"  ratio (median) api key / access token: {ratio:5.2f}")
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"API key vs access-token verification: python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {'quick' if args.quick else 'full'} run"
    )
    results = {"sqlite": await run_db("sqlite", None, args.quick)}
    if args.postgres:
        results["postgresql"] = await run_db("postgresql", args.postgres, args.quick)
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
