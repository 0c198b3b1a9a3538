"""Production settings for an embedded SQLite token store."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = ["READ_OPTION", "WRITE_OPTION", "configure_sqlite"]

logger = logging.getLogger("authmanager.store")

#: WAL lets readers run beside the writer; NORMAL is durable across application
#: crashes (and loses at most the last transactions on power loss); the busy timeout
#: makes concurrent writers wait instead of failing with "database is locked".
PRAGMAS = (
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)
_MARK = "_authmanager_sqlite_configured"
#: Execution option set by the token store on write transactions: they begin IMMEDIATE,
#: taking the write lock up front (and waiting on the busy timeout) instead of failing
#: when a read turns into a write after another writer committed (SQLITE_BUSY_SNAPSHOT).
WRITE_OPTION = "authmanager_write"
#: Execution option of the token store's single-statement reads (the per-request
#: check): no BEGIN is sent, as one SELECT is atomic on its own; this saves a round trip.
READ_OPTION = "authmanager_read"


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
            # WAL is stored in the file. Setting it again needs a lock that another
            # connection's write transaction may hold (SQLITE_BUSY, busy handler or
            # not), so it is set only when the file is not in WAL mode yet.
            cursor.execute("PRAGMA journal_mode")
            row = cursor.fetchone()
            if not row or str(row[0]).lower() != "wal":
                try:
                    cursor.execute("PRAGMA journal_mode=WAL")
                except Exception as exc:  # the driver's OperationalError: locked
                    # Best effort: a later connection switches the file to WAL.
                    logger.debug("sqlite: WAL not enabled yet: %s", type(exc).__name__)
        except Exception:
            # SQLAlchemy does not close a connection whose connect hook failed (a corrupt
            # or unreadable file): close it here, or its worker thread leaks.
            cursor.close()
            dbapi_connection.close()
            raise
        cursor.close()
        # The driver must not begin transactions itself: `_on_begin` does.
        dbapi_connection.isolation_level = None

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(READ_OPTION, False):
            return
        write = options.get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return True
