"""`python -m authmanager`: secret, create-tables, purge-expired, each with --help."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager._core.models import tokens
from tests.app import User


async def run_cli(*args: str) -> tuple[int, str, str]:
    """Run `python -m authmanager ARGS` in a subprocess without blocking the loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "authmanager",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_secret_prints_a_fresh_64_byte_urlsafe_secret() -> None:
    """`secret` prints 64 random bytes, URL-safe base64 (86 characters), new each time."""
    code, first, _ = await run_cli("secret")
    _, second, _ = await run_cli("secret")
    assert code == 0
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}\n", first)
    assert first != second


async def test_create_tables_on_a_sqlite_file(tmp_path: Path) -> None:
    """`create-tables` creates authmanager's tables in a new SQLite file, twice without error."""
    db = tmp_path / "cli.db"
    url = f"sqlite+aiosqlite:///{db}"
    for _ in range(2):
        code, out, err = await run_cli("create-tables", "--database-url", url)
        assert (code, err) == (0, "")
        assert "ready" in out
    with sqlite3.connect(db) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"authmanager_sessions", "authmanager_tokens", "authmanager_user_state"} <= names


async def test_purge_expired_prints_the_count(
    database: str,
    make_manager: Callable[..., AuthManager[User]],
    user: User,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """`purge-expired` deletes the expired tokens, prints how many, and keeps live ones."""
    manager = make_manager()
    with freeze_time(datetime.now(UTC) - timedelta(days=60), real_asyncio=True):
        await manager.create_token_pair({"sub": str(user.id)})
    live = await manager.create_token_pair({"sub": str(user.id)})
    code, out, err = await run_cli("purge-expired", "--database-url", database)
    assert (code, out, err) == (0, "2\n", "")
    async with session_factory() as db:
        assert await db.scalar(select(func.count()).select_from(tokens)) == 2
    assert (await manager.verify_token(live.access_token)).sub == str(user.id)
    code, out, _ = await run_cli("purge-expired", "--database-url", database)
    assert (code, out) == (0, "0\n")


async def test_unreachable_database_is_a_clean_error() -> None:
    """A database that cannot be reached exits 1 with one line, no traceback."""
    url = "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none"
    code, out, err = await run_cli("purge-expired", "--database-url", url)
    assert code == 1
    assert out == ""
    assert "temporarily unavailable" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "secret"),
        (("secret",), "64-byte"),
        (("create-tables",), "--database-url"),
        (("purge-expired",), "--database-url"),
    ],
)
async def test_every_command_has_help(command: tuple[str, ...], expected: str) -> None:
    """`--help` works for the program and for each subcommand."""
    code, out, _ = await run_cli(*command, "--help")
    assert code == 0
    assert expected in out


async def test_missing_command_or_url_is_a_usage_error() -> None:
    """No subcommand, or no --database-url, is a usage error (exit 2)."""
    assert (await run_cli())[0] == 2
    code, _, err = await run_cli("purge-expired")
    assert code == 2
    assert "--database-url" in err
