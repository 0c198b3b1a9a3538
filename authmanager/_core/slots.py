"""SlotTable: invalidation counters shared by the processes of one host.

A table of N 8-byte slots in a file that every process maps (`MAP_SHARED`), or in this
process's memory when no other process can share the store (in-memory SQLite). A key
(`("s", session_id)`, `("u", user_id)`, `("t", jti)`) hashes to one slot; slot 0 is
global. Each slot holds a *version* (low 48 bits) and a count of *pending* writers
(high 16 bits):

- a revoking transaction calls `begin(keys)` just before its commit (pending + 1,
  version + 1) and `end(keys)` right after it, committed or not (pending - 1, version + 1);
- a reader notes the versions of its token's slots before it reads the database and
  keeps the state only if no slot was pending; a kept state is used only while the
  versions are unchanged.

So a state read before a commit is never used after it, and a writer that dies between
its commit and `end()` leaves its slots pending: readers step aside (read the database)
until every process of the host has restarted, when the first one clears the table.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import mmap
import os
import secrets
import struct
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["GLOBAL", "Key", "SlotTable"]

logger = logging.getLogger("authmanager.statecache")

#: A revocation key: kind (`"t"` token, `"s"` session, `"u"` user, `"*"` all) and value.
Key = tuple[str, str]
#: The slot every cached state also depends on (purges, `invalidate_state_cache`).
GLOBAL = 0
_SLOT = struct.Struct("=Q")  # native 8-byte load/store
_PENDING = 1 << 48
_VERSION_MASK = _PENDING - 1
_MAGIC = b"amslots1"
_HEADER = 16  # magic (8 bytes) + table id (8 bytes)
DEFAULT_SLOTS = 1 << 18


class SlotTable:
    """N shared counters; see the module docstring for the protocol.

    Args:
        path: The file to map, shared by the host's processes; None for this process only.
        size: Number of slots (a file created by another process keeps its own size).

    Raises:
        OSError: the file cannot be created, locked or mapped.
    """

    def __init__(self, path: Path | None, size: int = DEFAULT_SLOTS) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._alive_fd: int | None = None
        if path is None:
            self._map: mmap.mmap | bytearray = bytearray(_HEADER + size * _SLOT.size)
            self._map[:8] = _MAGIC
            self._map[8:16] = secrets.token_bytes(8)
        else:
            self._map = self._open(path, size)
        self.size = (len(self._map) - _HEADER) // _SLOT.size
        #: Identifies this table (the host's), so a host ignores its own notifications.
        self.table_id = bytes(self._map[8:16]).hex()

    def _open(self, path: Path, size: int) -> mmap.mmap:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                length = _HEADER + size * _SLOT.size
                if os.fstat(fd).st_size < _HEADER or os.pread(fd, 8, 0) != _MAGIC:
                    os.ftruncate(fd, 0)
                    os.ftruncate(fd, length)
                    os.pwrite(fd, _MAGIC + secrets.token_bytes(8), 0)
                mapped = mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED)
                self._clear_if_alone(path, mapped)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return mapped

    def _clear_if_alone(self, path: Path, mapped: mmap.mmap) -> None:
        """First process of the host: clear pending counts a dead writer left behind.

        Every process holds a shared lock on `<path>.alive` for its lifetime; when an
        exclusive lock succeeds, no other process is running, so no writer is between
        its begin and its end. The versions move on, so no older state can match.
        """
        alive = os.open(f"{path}.alive", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            for offset in range(_HEADER, len(mapped), _SLOT.size):
                value = _SLOT.unpack_from(mapped, offset)[0]
                _SLOT.pack_into(mapped, offset, ((value & _VERSION_MASK) + 1) & _VERSION_MASK)
        fcntl.flock(alive, fcntl.LOCK_SH)
        self._alive_fd = alive

    def close(self) -> None:
        """Unmap the table and release this process's hold on the host's file."""
        if isinstance(self._map, mmap.mmap):
            self._map.close()
        for fd in (self._fd, self._alive_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._alive_fd = None

    def index(self, key: Key) -> int:
        """The slot of *key* (`GLOBAL` for kind `"*"`)."""
        kind, value = key
        if kind == "*":
            return GLOBAL
        digest = hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=8).digest()
        return 1 + int.from_bytes(digest, "little") % (self.size - 1)

    def read(self, slot: int) -> int:
        """The slot's current value: one load from shared memory, no system call."""
        value: int = _SLOT.unpack_from(self._map, _HEADER + slot * _SLOT.size)[0]
        return value

    @staticmethod
    def pending(value: int) -> bool:
        """Whether a slot value shows a writer between its begin and its end."""
        return value >= _PENDING

    def begin(self, slots: Iterable[int]) -> None:
        """Mark *slots* pending (a revocation is about to commit)."""
        self._add(set(slots), _PENDING + 1)

    def end(self, slots: Iterable[int]) -> None:
        """Clear one pending mark of *slots* (the revocation committed or rolled back)."""
        self._add(set(slots), 1 - _PENDING)

    def bump(self, slots: Iterable[int]) -> None:
        """Move *slots* on (a revocation committed elsewhere: another host's notification)."""
        self._add(set(slots), 1)

    def _add(self, slots: set[int], delta: int) -> None:
        with self._lock, self._file_lock():
            for slot in slots:
                offset = _HEADER + slot * _SLOT.size
                value = _SLOT.unpack_from(self._map, offset)[0]
                if delta < 0 and value < _PENDING:  # an end without its begin: stay sane
                    delta = 1
                new = (value + delta) & ((1 << 64) - 1)
                if new & _VERSION_MASK == 0:  # keep versions from wrapping onto a stored one
                    new += 1
                _SLOT.pack_into(self._map, offset, new)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
