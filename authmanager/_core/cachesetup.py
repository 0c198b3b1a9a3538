"""`build_state_cache`: the state cache the settings ask for, on the store's engine."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager._core.settings import AuthSettings
from authmanager._core.slots import SlotTable
from authmanager._core.statecache import StateCache

__all__ = ["build_state_cache"]

logger = logging.getLogger("authmanager.statecache")
_SHM = Path("/dev/shm")  # noqa: S108 - shared memory, not a temporary file


def build_state_cache(
    settings: AuthSettings, session_factory: async_sessionmaker[AsyncSession]
) -> StateCache | None:
    """The cache the settings ask for, or None (`off`, or a store it cannot serve).

    `auto` (the default) is `local` on SQLite and `postgres` on PostgreSQL.

    Raises:
        ValueError: `postgres` on a store that is not PostgreSQL.
    """
    mode = settings.state_cache
    bind = session_factory.kw.get("bind")
    url: URL | None = bind.url if isinstance(bind, AsyncEngine) else None
    backend = url.get_backend_name() if url is not None else None
    if mode == "auto":
        mode = {"sqlite": "local", "postgresql": "postgres"}.get(backend or "", "off")  # type: ignore[assignment]
    if mode == "off":
        return None
    if mode == "postgres" and (url is None or backend != "postgresql"):
        raise ValueError("AUTH_STATE_CACHE=postgres needs a PostgreSQL token store engine.")
    dsn = None
    if mode == "postgres" and url is not None:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return StateCache(
        _slot_table(settings, url),
        ttl=settings.state_cache_ttl_seconds,
        size=settings.state_cache_size,
        dsn=dsn,
    )


def _slot_table(settings: AuthSettings, url: URL | None) -> SlotTable | None:
    """The host's slot table: the configured file, beside a SQLite file, or in /dev/shm."""
    path = settings.state_cache_file
    if path is None and url is not None and url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(url):
            return SlotTable(None)  # no other process can open this database
        path = Path(database).resolve().with_name(Path(database).name + ".authmanager-slots")
    if path is None:
        # Every process of the host that uses this database (any credentials) shares it.
        where = "" if url is None else url.set(username=None, password=None).render_as_string()
        name = "authmanager-" + hashlib.sha256(where.encode()).hexdigest()[:24] + ".slots"
        path = (_SHM if _SHM.is_dir() else Path(tempfile.gettempdir())) / name
    failure = ""
    try:
        return SlotTable(Path(path))
    except OSError as exc:
        failure = type(exc).__name__
    logger.error("state cache: slot table unusable (%s); cache off", failure)
    return None
