"""`python -m authmanager` (or `authmanager`): secret, create-tables, purge-expired.

The database commands take `--database-url`, else the `DATABASE_URL` environment
variable; a URL that cannot work is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import secrets
import sys
from collections.abc import Sequence

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.sqlite import configure_sqlite
from authmanager._core.store import TokenStore
from authmanager.exceptions import AuthError

__all__ = ["main"]

SECRET_BYTES = 64
URL_ENV = "DATABASE_URL"
CAPABILITIES = [f"authmanager.{name}" for name in ("accounts", "mfa", "identities", "apikeys")]
#: The async drivers authmanager is tested with, for the hint of a sync or unknown URL.
ASYNC_SCHEMES = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


class UsageError(Exception):
    """A command line that cannot work; its message is the one line printed."""


def database_url(given: str | None) -> str:
    """Return the async SQLAlchemy URL to use: *given* (the flag), else `DATABASE_URL`.

    Raises:
        UsageError: no URL, or one that is malformed, unknown or not async, with the fix.
    """
    text = given or os.environ.get(URL_ENV, "").strip()
    if not text:
        raise UsageError(
            f"no database: pass --database-url or set {URL_ENV}, e.g. "
            "sqlite+aiosqlite:///./app.db or postgresql+asyncpg://user:password@host/db."
        )
    try:
        url = make_url(text)
    except ArgumentError:
        raise UsageError(
            "the database URL is not a SQLAlchemy URL; expected e.g. "
            "sqlite+aiosqlite:///./app.db or postgresql+asyncpg://user:password@host/db."
        ) from None
    shown = url.render_as_string(hide_password=True)
    backend = "postgresql" if url.get_backend_name() == "postgres" else url.get_backend_name()
    fix = _async_variant(url, backend)
    try:
        is_async = bool(getattr(url.get_dialect(), "is_async", False))
    except ArgumentError:  # NoSuchModuleError: an unknown dialect or driver
        raise UsageError(f"unknown database in {shown}{fix}") from None
    if not is_async:
        raise UsageError(f"{shown} names a synchronous driver; authmanager needs an async one{fix}")
    return text


def _async_variant(url: URL, backend: str) -> str:
    scheme = ASYNC_SCHEMES.get(backend)
    if scheme is None:
        return ": use sqlite+aiosqlite:// or postgresql+asyncpg://."
    fixed = url.set(drivername=scheme).render_as_string(hide_password=True)
    return f": use {fixed}."


def _secret(_args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(SECRET_BYTES))
    return 0


async def _create_tables(url: str) -> None:
    # Each capability registers its tables on `authmanager.metadata` when imported.
    for capability in CAPABILITIES:
        importlib.import_module(capability)
    engine = create_async_engine(url)
    try:
        await TokenStore.create_tables(engine)
    finally:
        await engine.dispose()


async def _purge(url: str) -> int:
    engine = create_async_engine(url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    configure_sqlite(factory)
    store = TokenStore(Database(factory))
    try:
        async with store.transaction() as db:
            return await store.purge(db, now=utcnow())
    finally:
        await engine.dispose()


def _create_tables_cmd(args: argparse.Namespace) -> int:
    url = database_url(args.database_url)
    asyncio.run(_create_tables(url))
    print(f"authmanager tables are ready in {make_url(url).render_as_string(hide_password=True)}.")
    return 0


def _purge_cmd(args: argparse.Namespace) -> int:
    print(asyncio.run(_purge(database_url(args.database_url))))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="authmanager",
        description="Maintenance commands for authmanager's token store.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    secret = commands.add_parser(
        "secret",
        help="print a random secret for JWT_SECRET_KEY",
        description=f"Print a random {SECRET_BYTES}-byte URL-safe secret for JWT_SECRET_KEY.",
    )
    secret.set_defaults(run=_secret)
    url_help = (
        f"async SQLAlchemy URL (default: ${URL_ENV}), e.g. sqlite+aiosqlite:///./app.db "
        "or postgresql+asyncpg://user:password@host/db"
    )
    create = commands.add_parser(
        "create-tables",
        help="create the token tables if missing",
        description="Create authmanager's tables (if missing). For migrations use Alembic "
        "with authmanager.metadata.",
    )
    create.add_argument("--database-url", help=url_help)
    create.set_defaults(run=_create_tables_cmd)
    purge = commands.add_parser(
        "purge-expired",
        help="delete expired tokens; prints the count (for cron)",
        description="Delete the rows of expired tokens and of finished sessions, and print "
        "how many tokens were deleted. Meant for cron.",
    )
    purge.add_argument("--database-url", help=url_help)
    purge.set_defaults(run=_purge_cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2: usage, 1: the database failed)."""
    parser = _parser()
    args = parser.parse_args(argv)
    # The store logs each failure's type for servers; here the one line below says it.
    logging.getLogger("authmanager").addHandler(logging.NullHandler())
    try:
        status: int = args.run(args)
    except UsageError as exc:
        parser.exit(2, f"authmanager {args.command}: {exc}\n")
    except AuthError as exc:
        cause = f" ({type(exc.__cause__).__name__})" if exc.__cause__ is not None else ""
        where = _shown(args)
        print(f"authmanager {args.command}: {where}{cause}: {exc.message}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"authmanager {args.command}: a database driver is missing: {exc}", file=sys.stderr)
        return 1
    return status


def _shown(args: argparse.Namespace) -> str:
    """The database URL of *args*, password hidden, for error messages."""
    text = getattr(args, "database_url", None) or os.environ.get(URL_ENV, "")
    return f"cannot use the database {make_url(text).render_as_string(hide_password=True)}"
