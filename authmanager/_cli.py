"""`python -m authmanager` (or `authmanager`): secret, create-tables, purge-expired."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.sqlite import configure_sqlite
from authmanager._core.store import TokenStore
from authmanager.exceptions import AuthError

__all__ = ["main"]

SECRET_BYTES = 64


def _secret(_args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(SECRET_BYTES))
    return 0


async def _create_tables(url: str) -> None:
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
    asyncio.run(_create_tables(args.database_url))
    print("authmanager tables are ready.")
    return 0


def _purge_cmd(args: argparse.Namespace) -> int:
    print(asyncio.run(_purge(args.database_url)))
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
    url_help = "async SQLAlchemy URL, e.g. sqlite+aiosqlite:///./auth.db or postgresql+asyncpg://…"
    create = commands.add_parser(
        "create-tables",
        help="create the token tables if missing",
        description="Create authmanager's tables (if missing). For migrations use Alembic "
        "with authmanager.metadata.",
    )
    create.add_argument("--database-url", required=True, help=url_help)
    create.set_defaults(run=_create_tables_cmd)
    purge = commands.add_parser(
        "purge-expired",
        help="delete expired tokens; prints the count (for cron)",
        description="Delete the rows of expired tokens and of finished sessions, and print "
        "how many tokens were deleted. Meant for cron.",
    )
    purge.add_argument("--database-url", required=True, help=url_help)
    purge.set_defaults(run=_purge_cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except AuthError as exc:
        print(f"authmanager: {exc.message}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"authmanager: a database driver is missing: {exc}", file=sys.stderr)
        return 1
    return status
