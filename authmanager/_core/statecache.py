"""StateCache: live access-token states kept between requests, invalidated exactly.

A state is kept with the versions of the slots of its token, its session and its user
(and the global slot), read before the database was (see `slots.py`). A revocation
moves only the slots of what it concerns, so it drops only those states, in every
process of the host at once (shared memory), before and after its commit. Other hosts
learn the same keys from the notification the revoking transaction sends
(PostgreSQL `NOTIFY`, delivered at commit); a process whose listener is down does not
use its cache at all.

Anything unexpected (no slot table, no listener yet) bypasses the cache: the database
is asked, as without a cache.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from time import monotonic
from typing import TYPE_CHECKING

from authmanager._core.listener import Listener
from authmanager._core.rows import TokenState
from authmanager._core.slots import GLOBAL, Key, SlotTable

if TYPE_CHECKING:
    from authmanager._core.tokens import TokenPayload

__all__ = ["CHANNEL", "REVOKES", "Mark", "StateCache"]

logger = logging.getLogger("authmanager.statecache")

#: The NOTIFY channel (NOTIFY is scoped to one database).
CHANNEL = "authmanager_state_cache"
#: `Session.info` key: the revocation keys of this transaction (set by the token store).
REVOKES = "authmanager_revokes"
#: NOTIFY payloads are limited to 8000 bytes; beyond this, "everything" is sent.
_MAX_PAYLOAD = 7000

#: (slot indices, their versions) noted before a read.
Mark = tuple[tuple[int, ...], tuple[int, ...]]


class StateCache:
    """jti -> (slots, versions, monotonic deadline, live access-token state).

    Args:
        slots: The host's slot table, or None to bypass (it could not be set up).
        ttl: Seconds an entry may be used at most (a bound for revocations made by SQL
            outside the library that nobody reported with `invalidate_state_cache`).
        size: Entries kept at most (the oldest are dropped first). Entries past their
            deadline are dropped as new ones come, so a process keeps about
            (access tokens verified per second x *ttl*) entries, not *size*, in a long run.
        dsn: In "postgres" mode, the database to LISTEN on for other hosts' revocations.
    """

    def __init__(self, slots: SlotTable | None, *, ttl: float, size: int, dsn: str | None) -> None:
        self._slots = slots
        self._ttl = ttl
        self._size = size
        # Kept in deadline order (every entry lives *ttl*): the expired ones are in front.
        self._entries: OrderedDict[
            str, tuple[tuple[int, ...], tuple[int, ...], float, TokenState]
        ] = OrderedDict()
        self._listener = (
            None if dsn is None else Listener(dsn, CHANNEL, self._on_notify, self._lost)
        )
        #: Whether revocations must also be announced with NOTIFY (other hosts).
        self.notifies = dsn is not None
        self.hits = 0
        self.misses = 0

    # --- readers ---------------------------------------------------------------------
    def _usable(self) -> bool:
        if self._slots is None:
            return False
        return self._listener is None or self._listener.ready()

    def _indices(self, payload: TokenPayload) -> tuple[int, ...]:
        slots = self._slots
        assert slots is not None  # noqa: S101 (checked by _usable)
        return (
            GLOBAL,
            slots.index(("t", payload.jti)),
            slots.index(("s", payload.sid)),
            slots.index(("u", payload.sub)),
        )

    def lookup(self, payload: TokenPayload) -> TokenState | None:
        """The cached state of *payload*'s token, if still exact; else None (ask the database)."""
        entry = self._entries.get(payload.jti)
        if entry is None or not self._usable():
            self.misses += 1
            return None
        indices, versions, deadline, state = entry
        slots = self._slots
        assert slots is not None  # noqa: S101
        if deadline <= monotonic() or tuple(slots.read(i) for i in indices) != versions:
            del self._entries[payload.jti]
            self.misses += 1
            return None
        self.hits += 1
        return state

    def mark(self, payload: TokenPayload) -> Mark | None:
        """Note the slot versions before a read; None when the state must not be kept."""
        if not self._usable():
            return None
        slots = self._slots
        assert slots is not None  # noqa: S101
        indices = self._indices(payload)
        versions = tuple(slots.read(i) for i in indices)
        if any(slots.pending(v) for v in versions):
            return None
        return indices, versions

    def store(self, jti: str, mark: Mark, state: TokenState) -> None:
        """Keep *state* (checked live) of access token *jti*, read after *mark*."""
        if state.type != "access":
            return
        entries = self._entries
        now = monotonic()
        entries.pop(jti, None)
        # Entries of tokens nobody presents any more (logged out, rotated, abandoned)
        # would otherwise stay until *size* pushes them out: drop the expired ones.
        while entries and next(iter(entries.values()))[2] <= now:
            entries.popitem(last=False)
        if len(entries) >= self._size:
            entries.popitem(last=False)
        entries[jti] = (mark[0], mark[1], now + self._ttl, state)

    def __len__(self) -> int:
        """The states kept now (expired ones included until the next `store`)."""
        return len(self._entries)

    # --- writers ---------------------------------------------------------------------
    def slots_of(self, keys: Iterable[Key]) -> set[int]:
        """The slot indices of revocation *keys* (empty without a slot table)."""
        if self._slots is None:
            return set()
        return {self._slots.index(key) for key in keys}

    def begin(self, slots: set[int]) -> None:
        """A revocation touching *slots* is about to commit: stop trusting their states."""
        if self._slots is not None and slots:
            self._slots.begin(slots)

    def end(self, slots: set[int]) -> None:
        """The revocation committed (or rolled back): states read from now on may be kept."""
        if self._slots is None or not slots:
            return
        failure = ""
        try:
            self._slots.end(slots)
        except (OSError, ValueError) as exc:  # the slots stay pending: bypassed, safe
            failure = type(exc).__name__
        if failure:
            logger.error("state cache: slots not released (%s)", failure)

    def announcement(self, keys: Iterable[Key]) -> str:
        """The NOTIFY payload that tells other hosts which states to drop."""
        origin = "" if self._slots is None else self._slots.table_id
        listed = sorted(set(keys))
        text = json.dumps({"o": origin, "k": listed}, separators=(",", ":"))
        if len(text) > _MAX_PAYLOAD:
            text = json.dumps({"o": origin, "k": [["*", ""]]}, separators=(",", ":"))
        return text

    def _on_notify(self, payload: str) -> None:
        slots = self._slots
        if slots is None:
            return
        try:
            message = json.loads(payload)
            if message.get("o") == slots.table_id:
                return  # this host's own revocation: its slots already moved
            keys = [(str(k), str(v)) for k, v in message["k"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            keys = [("*", "")]
        slots.bump({slots.index(key) for key in keys})

    def _lost(self) -> None:
        """The listener missed notifications: forget every state of this process."""
        self._entries.clear()

    def invalidate_all(self) -> None:
        """Drop every state of every process of the host (the global slot)."""
        self._entries.clear()
        if self._slots is not None:
            self._slots.bump({GLOBAL})

    async def aclose(self) -> None:
        """Stop the listener (if any); the cache is bypassed until it starts again."""
        if self._listener is not None:
            await self._listener.aclose()

    def start_listening(self) -> None:
        """Start the listener on the running loop (done on first use otherwise)."""
        if self._listener is not None:
            self._listener.ready()
