"""The demo under several workers: one secret, one password, one demo user for them all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from authmanager.demo import DEMO_EMAIL, DemoUser, create_app
from authmanager.demo.shared import DemoBase, DemoSecret, shared_secrets
from tests.conftest import client_for
from tests.support.http import bearer
from tests.support.http import free_port as _free_port


async def _clear(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(DemoBase.metadata.create_all)
            for table in DemoBase.metadata.sorted_tables:
                await conn.execute(delete(table))
    finally:
        await engine.dispose()


@pytest.fixture
async def demo_db(database: str) -> AsyncIterator[str]:
    """The test database with no demo secrets and no demo user yet (a first start)."""
    await _clear(database)
    yield database
    await _clear(database)


async def _stored_hash(url: str) -> str:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(DemoUser.hashed_password).where(DemoUser.email == DEMO_EMAIL)
            )
    finally:
        await engine.dispose()
    assert found is not None
    return str(found)


async def _login(client: httpx.AsyncClient, password: str) -> str:
    answer = await client.post("/auth/login", data={"username": DEMO_EMAIL, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def test_two_workers_share_secret_and_password(demo_db: str) -> None:
    """Two processes' apps on one database: the same password, each accepts the other's tokens."""
    first, second = create_app(demo_db), create_app(demo_db)
    assert first.state.demo_password == second.state.demo_password
    password = first.state.demo_password
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(LifespanManager(first))
        one = await stack.enter_async_context(client_for(first))
        hashed = await _stored_hash(demo_db)
        await stack.enter_async_context(LifespanManager(second))
        two = await stack.enter_async_context(client_for(second))
        assert await _stored_hash(demo_db) == hashed  # the second start left the hash alone
        token_one, token_two = await _login(one, password), await _login(two, password)
        for client, token in ((two, token_one), (one, token_two)):
            me = await client.get("/me", headers=bearer(token))
            assert me.status_code == 200, me.text
            assert me.json()["email"] == DEMO_EMAIL
        assert (await one.post("/auth/logout", headers=bearer(token_two))).status_code == 200
        assert (await two.get("/me", headers=bearer(token_two))).status_code == 401


async def test_first_start_wins_under_concurrency(demo_db: str) -> None:
    """Eight processes starting at once on an empty database all get the same values."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        drawn = list(pool.map(lambda _: shared_secrets(demo_db), range(8)))
    assert len(set(drawn)) == 1
    [values] = set(drawn)
    assert len(values.secret_key) >= 64
    assert len(values.password) >= 12
    engine = create_async_engine(demo_db, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(DemoSecret.name))).scalars().all()
    finally:
        await engine.dispose()
    assert sorted(rows) == ["jwt_secret_key", "password"]


async def test_explicit_password_replaces_stored(demo_db: str) -> None:
    """An explicit password wins over the stored one; later starts without one keep it."""
    drawn = shared_secrets(demo_db).password
    app = create_app(demo_db, password="an explicit demo password")
    assert app.state.demo_password == "an explicit demo password" != drawn
    later = create_app(demo_db)
    assert later.state.demo_password == "an explicit demo password"
    async with LifespanManager(app), client_for(app) as client:
        await _login(client, "an explicit demo password")
        refused = await client.post("/auth/login", data={"username": DEMO_EMAIL, "password": drawn})
        assert refused.status_code == 401


async def test_factory_reads_database_url(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`create_app()` with no argument (uvicorn --factory) uses DATABASE_URL and DEMO_PASSWORD."""
    monkeypatch.setenv("DATABASE_URL", demo_db)
    monkeypatch.setenv("DEMO_PASSWORD", "password from the environment")
    app = create_app()
    async with LifespanManager(app), client_for(app) as client:
        token = await _login(client, "password from the environment")
        assert (await client.get("/me", headers=bearer(token))).status_code == 200
    assert shared_secrets(demo_db).password == "password from the environment"


async def test_stored_secret_outlives_a_restart(demo_db: str) -> None:
    """Tokens issued before a restart of the demo are still accepted after it."""
    app = create_app(demo_db)
    async with LifespanManager(app), client_for(app) as client:
        token = await _login(client, app.state.demo_password)
    again = create_app(demo_db)
    async with LifespanManager(again), client_for(again) as client:
        assert (await client.get("/me", headers=bearer(token))).status_code == 200


async def test_jwt_secret_key_env_wins(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With JWT_SECRET_KEY set the stored secret is not used."""
    stored = shared_secrets(demo_db).secret_key
    monkeypatch.setenv("JWT_SECRET_KEY", "x" * 64)
    app = create_app(demo_db)
    assert app.state.auth.settings.secret_key.get_secret_value() == "x" * 64 != stored


@pytest.fixture
def workers_server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """`python -m authmanager.demo --workers 2` on a fresh SQLite file: (URL, db URL, log)."""
    port = _free_port()
    log = tmp_path / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_", "DEMO_"))}
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    env["DATABASE_URL"] = db_url
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "authmanager.demo", "--port", str(port), "--workers", "2"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 90
        while log.read_text().count("Application startup complete") < 2:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the demo did not start: " + log.read_text()
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", db_url, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def test_demo_with_two_workers_over_http(workers_server: tuple[str, str, Path]) -> None:
    """Two uvicorn workers: tokens minted on 12 connections work on 36 others, all 200."""
    url, db_url, log = workers_server
    output = log.read_text()
    assert f"  database:  {db_url}" in output
    assert "  workers:   2" in output
    started = re.findall(r"Started server process \[(\d+)\]", output)
    assert len(set(started)) == 2, output
    password = shared_secrets(db_url).password
    assert f"  password:  {password}" in output
    tokens: list[str] = []
    for _ in range(12):
        async with httpx.AsyncClient(base_url=url) as client:  # a new connection each time
            tokens.append(await _login(client, password))
    answers = []
    for token in tokens:
        for _ in range(3):
            async with httpx.AsyncClient(base_url=url) as client:
                answers.append((await client.get("/me", headers=bearer(token))).status_code)
    assert answers == [200] * 36
