"""RateLimiter: moving-window counters over the `limits` library, in key spaces that never collide.

The failed-login limits built on it are `authmanager._core.loginlimit.LoginLimiter`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from authmanager.exceptions import RateLimitExceededError, TokenStoreUnavailableError

__all__ = ["RateLimiter"]

logger = logging.getLogger("authmanager.ratelimit")
_REDIS_TIMEOUT = 3.0


def _storage(url: str) -> Storage:
    """Build the async storage for *url*: `memory://` or `redis://…` (redis-py)."""
    if url.startswith("memory://"):
        return MemoryStorage()
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            return RedisStorage(
                url,
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix="authmanager",  # `reset()` then clears only authmanager's counts
                # An unreachable server must fail the request (503), not hang it.
                socket_connect_timeout=_REDIS_TIMEOUT,
                socket_timeout=_REDIS_TIMEOUT,
                **_reconnecting(),
            )
        except Exception as exc:  # the dependency check raises a bare ConfigurationError
            raise ImportError(
                "A Redis rate-limit storage needs redis: pip install 'authmanager[redis]'."
            ) from exc
    raise ValueError(f"Unsupported AUTH_RATE_LIMIT_STORAGE_URL scheme in {url.split(':')[0]!r}.")


async def _close_storage(storage: Storage) -> None:
    """Close *storage*'s client and its connection pool, when it has one (Redis)."""
    # limits offers no close method: its Redis bridge exposes the redis-py client.
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    close = getattr(client, "aclose", None)
    if close is not None:
        try:
            await close(close_connection_pool=True)
        except Exception as exc:  # shutting down: a dead server must not stop it
            logger.warning("rate-limit storage not closed cleanly: %s", type(exc).__name__)


def _reconnecting() -> dict[str, Any]:
    """redis-py options: a pooled connection broken by a Redis restart is retried once.

    An idle connection is checked before use, and a command that fails on a broken one
    runs once more on a fresh connection (redis-py retries nothing by default). The
    client is redis-py's asyncio one, so its retry must be `redis.asyncio.retry.Retry`:
    the synchronous `redis.retry.Retry` returns the coroutine un-awaited and retries
    nothing (every pooled connection a restart broke failed one request).
    """
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return {
        "health_check_interval": 30,
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "retry": Retry(NoBackoff(), 1),
    }


def _key(kind: str, value: str) -> str:
    # Login names are hashed so the storage (Redis) never holds them in clear.
    digest = hashlib.sha256(value.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:{digest[:32]}"


class RateLimiter:
    """Moving-window counters over `limits`, in key spaces that never collide.

    A key is (space, digest of the value): *space* is a constant the library chooses
    per kind of thing counted (`"login"`, `"ip"`, `"user"`, ...), never client input,
    and values are hashed, so the storage never holds an address or a login in clear
    and no value of one kind can name a counter of another.
    Storage failures raise `TokenStoreUnavailableError` (fail closed).

    Args:
        storage_url: `memory://`, or `redis://host:6379/0` to share counts between workers.
    """

    def __init__(self, storage_url: str) -> None:
        self._storage = _storage(storage_url)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._namespace = "authmanager"

    @staticmethod
    def rule(text: str) -> RateLimitItem | None:
        """Parse a `limits` rule such as `"5/15 minutes"`; None for an empty one (off)."""
        return parse(text) if text.strip() else None

    async def hit(self, space: str, value: str, rule: RateLimitItem) -> None:
        """Count one event for *value*; raise `RateLimitExceededError` over the limit."""
        ident = _key(space, value)
        if not await self._call(self._limiter.hit, rule, self._namespace, space, ident):
            raise RateLimitExceededError(retry_after=await self._retry_after(rule, space, ident))

    async def check(self, space: str, value: str, rule: RateLimitItem) -> None:
        """Raise `RateLimitExceededError` when *value* is already at the limit (counts nothing)."""
        ident = _key(space, value)
        if not await self._call(self._limiter.test, rule, self._namespace, space, ident):
            raise RateLimitExceededError(retry_after=await self._retry_after(rule, space, ident))

    async def record(self, space: str, value: str, rule: RateLimitItem) -> None:
        """Count one event for *value* without refusing (a failure after the check)."""
        await self._call(self._limiter.hit, rule, self._namespace, space, _key(space, value))

    async def clear(self, space: str, value: str, rule: RateLimitItem) -> None:
        """Forget the counts of *value* under *rule*."""
        await self._call(self._limiter.clear, rule, self._namespace, space, _key(space, value))

    async def reached(self, space: str, value: str, rule: RateLimitItem) -> bool:
        """Return whether *value* is at the limit of *rule* (counts nothing)."""
        ident = _key(space, value)
        return not await self._call(self._limiter.test, rule, self._namespace, space, ident)

    async def window(self, space: str, value: str, rule: RateLimitItem) -> tuple[int, int]:
        """Return (events still allowed, seconds until the oldest counted one leaves)."""
        ident = _key(space, value)
        stats = await self._call(
            self._limiter.get_window_stats, rule, self._namespace, space, ident
        )
        return int(stats.remaining), max(1, math.ceil(float(stats.reset_time) - time.time()))

    async def generation(self, space: str, value: str) -> int:
        """Return the generation of *value* (0 until `next_generation`), for keys to outdate."""
        return int(await self._call(self._storage.get, self._plain_key(space, value)))

    async def next_generation(self, space: str, value: str, *, ttl: int) -> None:
        """Move *value* to its next generation, remembered for *ttl* seconds."""
        await self._call(self._storage.incr, self._plain_key(space, value), ttl)

    def _plain_key(self, space: str, value: str) -> str:
        # Beside the limiter's own keys (`LIMITER/...`), never one of them.
        return f"{self._namespace}/{_key(space, value)}"

    async def aclose(self) -> None:
        """Close the storage's connections (the Redis pool); the memory storage has none.

        Call it at shutdown, on the event loop that used the limiter: a pool left to the
        garbage collector would close its sockets on a loop that may be gone.
        """
        await _close_storage(self._storage)

    async def _retry_after(self, item: RateLimitItem, space: str, ident: str) -> int:
        """Whole seconds until the oldest counted event leaves the window (at least 1)."""
        stats = await self._call(
            self._limiter.get_window_stats, item, self._namespace, space, ident
        )
        return max(1, math.ceil(float(stats.reset_time) - time.time()))

    async def _call(self, func: Any, *args: Any) -> Any:
        try:
            return await func(*args)
        except RateLimitExceededError:
            raise
        except Exception as exc:
            logger.warning("rate-limit storage unavailable: %s", type(exc).__name__)
            raise TokenStoreUnavailableError(
                "The rate-limit storage is unavailable; requests are refused until it returns."
            ) from exc

    async def reset(self) -> None:
        """Forget every count (for tests and administrators).

        On Redis this deletes every key under the `authmanager` prefix, so it also
        clears the counts of other workers sharing that server and database.
        """
        await self._call(self._storage.reset)
