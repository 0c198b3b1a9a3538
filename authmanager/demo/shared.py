"""What every worker of one demo must share: its tables, JWT secret and demo password.

`uvicorn --workers N` (or several hosts) builds the application once per process. Each
process drawing its own secret would reject the others' tokens, and each drawing its own
password would reset the demo user's hash under the others. So both are drawn once per
database and stored in it (table `demo_secrets`): the first process to insert a value
wins, every later one reads it. Tables are created under a lock for the same reason
(two processes running `CREATE TABLE` at once fail on PostgreSQL).

This is a demo convenience: a real application reads its secret from its configuration,
never from the database it protects.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import String, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool

from authmanager import metadata as auth_metadata
from authmanager._core.sqlite import WRITE_OPTION, configure_sqlite

__all__ = ["DemoBase", "DemoSecrets", "run_blocking", "shared_secrets"]

T = TypeVar("T")
SECRET_KEY = "jwt_secret_key"
PASSWORD = "password"
# Any constant: PostgreSQL advisory locks are keyed by a 64-bit integer.
_LOCK_KEY = 0x616D64656D6F


class DemoBase(DeclarativeBase):
    """The demo's own declarative base (its tables live beside authmanager's)."""


class DemoSecret(DemoBase):
    """One shared value of the demo (`jwt_secret_key`, `password`)."""

    __tablename__ = "demo_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


@dataclass(frozen=True)
class DemoSecrets:
    """The values every process of one demo database agrees on."""

    secret_key: str
    password: str


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run *coro* to completion on a loop of its own, in a thread (callers may be async).

    `create_app` is synchronous, yet uvicorn calls a `--factory` from inside its running
    event loop, where `asyncio.run` is not allowed: a short-lived thread has its own.
    """
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="authmanager-demo-setup")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


async def _first_wins(conn: AsyncConnection, name: str, drawn: str) -> str:
    found = await conn.scalar(select(DemoSecret.value).where(DemoSecret.name == name))
    if found is not None:
        return str(found)
    await conn.execute(insert(DemoSecret).values(name=name, value=drawn))
    return drawn


async def _resolve(db_url: str, password: str | None) -> DemoSecrets:
    engine = create_async_engine(db_url, poolclass=NullPool)
    # SQLite: the transaction below begins IMMEDIATE (the write lock up front), so two
    # processes never both read "absent"; PostgreSQL: an advisory lock does the same
    # and also keeps concurrent CREATE TABLE statements from racing.
    configure_sqlite(async_sessionmaker(engine))
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                if conn.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY}
                    )
                await conn.run_sync(auth_metadata.create_all)
                await conn.run_sync(DemoBase.metadata.create_all)
                secret_key = await _first_wins(conn, SECRET_KEY, secrets.token_urlsafe(64))
                if password is None:
                    password = await _first_wins(conn, PASSWORD, secrets.token_urlsafe(12))
                elif await _first_wins(conn, PASSWORD, password) != password:
                    # An explicit password replaces the stored one.
                    await conn.execute(
                        update(DemoSecret).where(DemoSecret.name == PASSWORD).values(value=password)
                    )
        return DemoSecrets(secret_key=secret_key, password=password)
    finally:
        await engine.dispose()


def shared_secrets(db_url: str, *, password: str | None = None) -> DemoSecrets:
    """Create the tables and return the demo's shared secret and password (first wins).

    Args:
        db_url: The demo's async SQLAlchemy URL.
        password: An explicit password: stored, replacing the drawn one; None reads the
            stored one (drawn by the first process).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database could not be reached.
    """
    return run_blocking(_resolve(db_url, password))
