"""Opt-in cache of live access-token states for the per-request check.

Exactness protocol (see docs/guides/state-cache.md):

- An *epoch* counter changes whenever a revocation commits. In "local" mode it is
  8 bytes of a file mapped by every process of the host; in "postgres" mode it is a
  per-process counter that a LISTEN connection bumps on every notification.
- A reader reads the epoch before its SELECT and stores the state with that epoch; a
  hit is used only while the epoch is unchanged and the entry is younger than the TTL.
- A revoking transaction bumps the epoch before its commit and again right after it
  (and, in "postgres" mode, sends `pg_notify` inside the transaction). So a state read
  before the commit can never be used after the post-commit bump; if the process dies
  between its commit and that bump, the TTL bounds how long such an entry lives.

Anything unexpected (an unreadable epoch file, no listener) bypasses the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import mmap
import os
import secrets
import struct
import threading
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authmanager._core.rows import TokenState

if TYPE_CHECKING:
    from authmanager._core.settings import AuthSettings

__all__ = ["CHANNEL", "REVOKES", "StateCache", "build_state_cache"]

logger = logging.getLogger("authmanager.statecache")

#: The NOTIFY channel of "postgres" mode (NOTIFY is scoped to one database).
CHANNEL = "authmanager_state_cache"
#: `Session.info` key: this transaction revokes (set by the store's revoke methods).
REVOKES = "authmanager_revokes"
_EPOCH = struct.Struct("=Q")  # native 8-byte load/store: one instruction, never torn
_MASK = (1 << 64) - 1


class _FileEpoch:
    """An 8-byte counter in a file that every process of the host maps (MAP_SHARED)."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size < _EPOCH.size:
                    # A random start: a re-created file never repeats an old epoch.
                    os.ftruncate(fd, _EPOCH.size)
                    os.pwrite(fd, _EPOCH.pack(secrets.randbits(62)), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, _EPOCH.size, mmap.MAP_SHARED)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._lock = threading.Lock()
        self.read()

    def read(self) -> int:
        """The current epoch: one load from shared memory, no system call."""
        value: int = _EPOCH.unpack_from(self._map, 0)[0]
        return value

    def bump(self) -> None:
        """Increment under an exclusive lock (threads of this process, then processes)."""
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                _EPOCH.pack_into(self._map, 0, (self.read() + 1) & _MASK)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class _MemoryEpoch:
    """A counter of this process only (in-memory SQLite; "postgres" mode)."""

    def __init__(self) -> None:
        self.value = secrets.randbits(62)
        self._lock = threading.Lock()

    def read(self) -> int:
        return self.value

    def bump(self) -> None:
        with self._lock:
            self.value = (self.value + 1) & _MASK


class StateCache:
    """jti -> (epoch at read, monotonic deadline, live access-token state).

    Args:
        epoch: Where the epoch lives; None when it could not be set up (bypass).
        ttl: Seconds an entry may be used at most.
        size: Entries kept at most (the oldest are dropped first).
        dsn: In "postgres" mode, the database to LISTEN on.
    """

    def __init__(
        self, epoch: _FileEpoch | _MemoryEpoch | None, ttl: float, size: int, dsn: str | None
    ) -> None:
        self._epoch = epoch
        self._ttl = ttl
        self._size = size
        self._entries: dict[str, tuple[int, float, TokenState]] = {}
        self._dsn = dsn
        self.notifies = dsn is not None
        self._listening = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def _usable(self) -> bool:
        if self._epoch is None:
            return False
        if self._dsn is None:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if loop is not self._loop:
            if self._loop is None or self._loop.is_closed():
                self._start(loop)
            return False
        return self._listening

    def lookup(self, jti: str) -> TokenState | None:
        """The cached state of *jti*, if still exact; else None (ask the database)."""
        entry = self._entries.get(jti)
        if entry is None or not self._usable():
            return None
        assert self._epoch is not None  # noqa: S101 (checked by _usable)
        if entry[0] != self._epoch.read() or entry[1] <= monotonic():
            return None
        return entry[2]

    def mark(self) -> int | None:
        """Read the epoch before a SELECT; None when the cache must be bypassed."""
        if not self._usable():
            return None
        assert self._epoch is not None  # noqa: S101 (checked by _usable)
        return self._epoch.read()

    def store(self, jti: str, mark: int, state: TokenState) -> None:
        """Remember *state* (checked live) of access token *jti*, read after *mark*."""
        if state.type != "access":
            return
        entries = self._entries
        if len(entries) >= self._size and jti not in entries:
            del entries[next(iter(entries))]
        entries[jti] = (mark, monotonic() + self._ttl, state)

    def bump(self, *, strict: bool = True) -> None:
        """Invalidate every entry of every process sharing the epoch.

        Raises:
            OSError: the epoch could not be written (only when *strict*; otherwise
                this process stops using its cache and the error is logged).
        """
        self._entries.clear()
        if self._epoch is None:
            return
        failure: Exception | None = None
        try:
            self._epoch.bump()
        except (OSError, ValueError) as exc:
            failure = exc
        if failure is not None:
            self._epoch = None
            logger.error("state cache: epoch not bumped (%s); cache off", type(failure).__name__)
            if strict:
                raise OSError("state cache epoch not writable") from failure

    # --- "postgres" mode: LISTEN -----------------------------------------------------
    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._listening = False
        self._entries.clear()
        self._task = loop.create_task(self._listen(), name="authmanager-state-cache-listener")

    def _on_notify(self, *_args: Any) -> None:
        if self._epoch is not None:
            self._epoch.bump()

    async def _listen(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        delay = 0.1
        while True:
            lost = asyncio.Event()
            conn: Any = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, server_settings={"application_name": "authmanager-state-cache"}
                )
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                self.bump(strict=False)  # whatever was missed while not listening
                self._listening = self._epoch is not None
                delay = 0.1
                while not lost.is_set():  # a ping per TTL notices a silent drop
                    try:
                        await asyncio.wait_for(lost.wait(), self._ttl)
                    except TimeoutError:
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), self._ttl)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("state cache: listener lost (%s)", type(exc).__name__)
            finally:
                self._listening = False
                self._entries.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def aclose(self) -> None:
        """Stop the listener (if any); the cache is bypassed until it is started again."""
        task, self._task, self._loop = self._task, None, None
        self._listening = False
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task


def build_state_cache(
    settings: AuthSettings, session_factory: async_sessionmaker[AsyncSession]
) -> StateCache | None:
    """The cache the settings ask for, or None ("off", the default).

    Raises:
        ValueError: "local" without an epoch file on a non-SQLite store, or "postgres"
            on a store that is not PostgreSQL.
    """
    mode = settings.state_cache
    if mode == "off":
        return None
    bind = session_factory.kw.get("bind")
    url: URL | None = bind.url if isinstance(bind, AsyncEngine) else None
    ttl, size = settings.state_cache_ttl_seconds, settings.state_cache_size
    if mode == "postgres":
        if url is None or url.get_backend_name() != "postgresql":
            raise ValueError("AUTH_STATE_CACHE=postgres needs a PostgreSQL token store engine.")
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return StateCache(_MemoryEpoch(), ttl, size, dsn)
    path = settings.state_cache_epoch_file
    if path is None:
        if url is None or url.get_backend_name() != "sqlite":
            raise ValueError(
                "AUTH_STATE_CACHE=local needs AUTH_STATE_CACHE_EPOCH_FILE unless the store "
                "is a SQLite file."
            )
        database = url.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(url):
            return StateCache(_MemoryEpoch(), ttl, size, None)  # no other process sees it
        path = Path(database).resolve().with_name(Path(database).name + ".authmanager-epoch")
    epoch: _FileEpoch | None = None
    try:
        epoch = _FileEpoch(Path(path))
    except (OSError, ValueError) as exc:
        failure = type(exc).__name__
    if epoch is None:
        logger.error("state cache: epoch file unusable (%s); cache off", failure)
    return StateCache(epoch, ttl, size, None)
