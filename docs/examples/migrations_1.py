"""migrations/env.py: Alembic (async template) with authmanager's tables beside yours."""

import asyncio
import os

from alembic import context
from app_models import Base
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import authmanager

config = context.config
url = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db")

# --8<-- [start:metadata]
# Your models and authmanager's token tables, so autogenerate sees both.
target_metadata = [Base.metadata, authmanager.metadata]
# --8<-- [end:metadata]


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
