"""Timing helpers: a direct ASGI call, interleaved rounds, medians and p99s."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

Clock = time.perf_counter


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def summary(values: list[float]) -> tuple[float, float]:
    """(median, p99) of *values*."""
    return statistics.median(values), p99(values)


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for tables."""
    return f"{seconds * 1000:8.3f} ms"


def asgi_get(app: Any, path: str, token: str | None) -> Callable[[], Awaitable[int]]:
    """A zero-argument coroutine function: one GET of *path* straight into the ASGI app."""
    headers = [(b"host", b"testserver")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def call() -> int:
        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        return status

    return call


async def interleaved(
    variants: dict[str, Callable[[], Awaitable[int]]],
    *,
    rounds: int,
    per_round: int,
    warmup: int = 200,
) -> dict[str, list[float]]:
    """Run the variants in alternating rounds (rotating order) so drift hits them all."""
    names = list(variants)
    for name in names:
        for _ in range(warmup):
            status = await variants[name]()
            if status != 200:
                raise RuntimeError(f"{name} answered {status}")
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            call, out = variants[name], samples[name]
            for _ in range(per_round):
                start = Clock()
                await call()
                out.append(Clock() - start)
    return samples


class StatementCounter:
    """Counts SQL statements and commits on an engine while active."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.statements: list[str] = []
        self.commits = 0

    def _on_execute(self, *args: Any) -> None:
        self.statements.append(str(args[2]).split()[0].upper())

    def _on_commit(self, *_: Any) -> None:
        self.commits += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        event.listen(self.engine, "commit", self._on_commit)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)
        event.remove(self.engine, "commit", self._on_commit)
