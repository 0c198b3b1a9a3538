"""Benchmark databases: a fresh SQLite file or PostgreSQL database, and fast bulk rows."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import metadata
from bench.app import Base, make_engine

PAST = "2020-01-01 00:00:00"  # expired rows
FUTURE = "2099-01-01 00:00:00"  # live rows


@asynccontextmanager
async def database(kind: str, postgres_url: str | None) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """Yield (url, engine) of an empty database with every table; removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="authmanager-bench-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            engine = make_engine(url)
            await _create(engine)
            try:
                yield url, engine
            finally:
                await engine.dispose()
        return
    assert postgres_url is not None
    import asyncpg

    base = make_url(postgres_url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"am_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    await _create(engine)
    try:
        yield url, engine
    finally:
        await engine.dispose()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def _create(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(Base.metadata.create_all)


async def add_user(engine: AsyncEngine, email: str, hashed: str) -> int:
    """Insert a user; return its id."""
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO bench_users (email, hashed_password, is_active) VALUES (:e, :h, :a)"),
            {"e": email, "h": hashed, "a": True},
        )
        row = (
            await conn.execute(text("SELECT id FROM bench_users WHERE email = :e"), {"e": email})
        ).one()
    return int(row[0])


async def bulk_rows(
    engine: AsyncEngine, *, tokens: int, user_id: str, expires: str, prefix: str
) -> float:
    """Insert *tokens* token rows (two per session) in one statement per table; return seconds.

    SQLite uses a recursive CTE, PostgreSQL `generate_series`: the rows are generated
    inside the database, so a million of them take seconds, not minutes.
    """
    import time

    n_sessions = tokens // 2
    start = time.perf_counter()
    if engine.dialect.name == "sqlite":
        sessions_sql = (
            "INSERT INTO authmanager_sessions (id, user_id, created_at, last_used_at, "
            "expires_at, refresh_expires_at, claims) "
            "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < :n) "
            "SELECT :p || x, :u, :c, :c, :e, :e, '{}' FROM s"
        )
        tokens_sql = (
            "INSERT INTO authmanager_tokens (jti, session_id, user_id, type, issued_at, "
            "expires_at) "
            "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < :n) "
            "SELECT :p || 't' || x, :p || ((x + 1) / 2), :u, "
            "CASE x % 2 WHEN 1 THEN 'access' ELSE 'refresh' END, :c, :e FROM s"
        )
        params = {
            "p": prefix,
            "u": user_id,
            "c": "2019-12-31 00:00:00.000000",
            "e": expires + ".000000",
        }
    else:
        sessions_sql = (
            "INSERT INTO authmanager_sessions (id, user_id, created_at, last_used_at, "
            "expires_at, refresh_expires_at, claims) "
            "SELECT CAST(:p AS text) || x, :u, CAST(:c AS timestamptz), CAST(:c AS timestamptz), "
            "CAST(:e AS timestamptz), CAST(:e AS timestamptz), '{}' "
            "FROM generate_series(1, CAST(:n AS integer)) AS x"
        )
        tokens_sql = (
            "INSERT INTO authmanager_tokens (jti, session_id, user_id, type, issued_at, "
            "expires_at) SELECT CAST(:p AS text) || 't' || x, "
            "CAST(:p AS text) || ((x + 1) / 2), :u, "
            "CASE x % 2 WHEN 1 THEN 'access' ELSE 'refresh' END, CAST(:c AS timestamptz), "
            "CAST(:e AS timestamptz) FROM generate_series(1, CAST(:n AS integer)) AS x"
        )
        params = {
            "p": prefix,
            "u": user_id,
            "c": datetime(2019, 12, 31, tzinfo=UTC),
            "e": datetime.fromisoformat(expires).replace(tzinfo=UTC),
        }
    async with engine.begin() as conn:
        await conn.execute(text(sessions_sql), {**params, "n": n_sessions})
        await conn.execute(text(tokens_sql), {**params, "n": n_sessions * 2})
        await conn.execute(text("ANALYZE"))
    return time.perf_counter() - start
