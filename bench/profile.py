"""Profile one protected route with pyinstrument: `python bench/profile.py [token|user]`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.app import make_app, make_manager  # noqa: E402
from bench.db import database  # noqa: E402
from bench.harness import asgi_get  # noqa: E402
from bench.workloads import _user_and_token  # noqa: E402


async def main(route: str, count: int, url: str | None) -> None:
    from pyinstrument import Profiler

    kind = "postgresql" if url else "sqlite"
    async with database(kind, url) as (_, engine):
        auth = make_manager(engine, bcrypt_rounds=4)
        _, token = await _user_and_token(engine, auth)
        call = asgi_get(make_app(auth), f"/{route}", token if route != "bare" else None)
        for _ in range(300):
            await call()
        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        for _ in range(count):
            await call()
        profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    for name in list(os.environ):
        if name.startswith(("JWT_", "AUTH_")):
            del os.environ[name]
    route = sys.argv[1] if len(sys.argv) > 1 else "token"
    asyncio.run(main(route, 2000, os.environ.get("BENCH_POSTGRES_URL")))
