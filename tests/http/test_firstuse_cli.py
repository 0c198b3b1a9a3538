"""The CLI finds the database from DATABASE_URL; a bad URL is one line; the docs' commands run."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import metadata

ROOT = Path(__file__).resolve().parents[2]
#: A command of the docs: `python -m authmanager <subcommand> [args]`, up to a comment or pipe.
DOCS_COMMAND = re.compile(
    r"python -m authmanager (?:secret|create-tables|purge-expired)(?: [^`#|\n]*)?"
)


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `python -m authmanager ARGS` with *env* on top of a clean environment."""
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "authmanager",
        *args,
        env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


async def test_database_url_from_the_environment(tmp_path: Path) -> None:
    """With DATABASE_URL set, create-tables and purge-expired need no flag."""
    db = tmp_path / "env.db"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    created = await run("create-tables", env=env)
    purged = await run("purge-expired", env=env)
    assert created[0] == 0, created
    assert created[1] == f"authmanager tables are ready in sqlite+aiosqlite:///{db}.\n"
    assert set(metadata.tables) <= _tables(db)
    assert purged == (0, "0\n", "")


async def test_the_flag_wins_over_the_environment(tmp_path: Path) -> None:
    """`--database-url` is used when both are given."""
    flag, env_db = tmp_path / "flag.db", tmp_path / "env.db"
    code, _, err = await run(
        "create-tables",
        "--database-url",
        f"sqlite+aiosqlite:///{flag}",
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{env_db}"},
    )
    assert (code, err) == (0, "")
    assert flag.exists()
    assert not env_db.exists()


async def test_no_database_is_a_one_line_usage_error() -> None:
    """Neither flag nor DATABASE_URL: exit 2, one line that names both."""
    code, out, err = await run("purge-expired")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "--database-url" in err
    assert "DATABASE_URL" in err


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        pytest.param("not a url", "not a SQLAlchemy URL", id="garbage"),
        pytest.param("sqlite:///app.db", "use sqlite+aiosqlite:///app.db", id="sync-sqlite"),
        pytest.param(
            "postgresql://me:s3cret@db/app", "use postgresql+asyncpg://me:***@db/app", id="sync-pg"
        ),
        pytest.param(
            "postgres://me:s3cret@db/app", "use postgresql+asyncpg://me:***@db/app", id="heroku"
        ),
        pytest.param("mysql+nothing://me:s3cret@db/app", "unknown database", id="unknown"),
    ],
)
async def test_a_bad_url_is_one_line_with_the_fix(url: str, hint: str) -> None:
    """Each URL that cannot work: exit 2, one line naming the fix, no traceback, no password."""
    code, out, err = await run("create-tables", env={"DATABASE_URL": url})
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1, err
    assert hint in err
    assert "Traceback" not in err
    assert "s3cret" not in err


async def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    """A server that does not answer: exit 1, one line with the cause, the password hidden."""
    url = "postgresql+asyncpg://nobody:s3cret@127.0.0.1:1/none"
    code, out, err = await run("purge-expired", env={"DATABASE_URL": url})
    assert (code, out) == (1, "")
    assert err.count("\n") == 1, err
    assert "nobody:***@127.0.0.1:1/none" in err
    assert "s3cret" not in err


def _docs_commands() -> list[str]:
    found: list[str] = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for command in DOCS_COMMAND.findall(page.read_text(encoding="utf-8")):
            if command.strip() not in found:
                found.append(command.strip())
    return found


def test_the_docs_name_the_database_commands() -> None:
    """The docs show each database command (the test below runs every one shown)."""
    commands = _docs_commands()
    for sub in ("secret", "create-tables", "purge-expired"):
        assert f"python -m authmanager {sub}" in commands, commands


@pytest.mark.parametrize("command", _docs_commands())
async def test_every_command_in_the_docs_works(
    command: str, database: str, engine: AsyncEngine
) -> None:
    """Each `python -m authmanager ...` of the docs runs as written, with DATABASE_URL set."""
    args = command.split()[3:]
    code, _, err = await run(*args, env={"DATABASE_URL": database})
    assert (code, err) == (0, ""), command
