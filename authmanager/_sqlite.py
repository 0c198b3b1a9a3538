"""Production settings for an embedded SQLite token store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = ["configure_sqlite"]

#: WAL lets readers run beside the writer; NORMAL is durable across application
#: crashes (and loses at most the last transactions on power loss); the busy timeout
#: makes concurrent writers wait instead of failing with "database is locked".
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)
_MARK = "_authmanager_sqlite_configured"


def configure_sqlite(session_factory: async_sessionmaker[AsyncSession]) -> bool:
    """Install the pragmas on the factory's SQLite engine; return whether it is SQLite.

    Each new connection gets them; an in-memory database keeps its own journal mode.
    Installing twice on one engine is harmless.
    """
    bind = session_factory.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return False
    sync_engine = bind.sync_engine
    if getattr(sync_engine, _MARK, False):
        return True
    setattr(sync_engine, _MARK, True)

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    return True
