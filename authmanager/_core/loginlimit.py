"""LoginLimiter: the limits on failed password checks (at `/login` and `/fresh`) and refreshes.

Three limits count failed logins, so that neither one person's typos behind a shared
address nor a stranger who knows a login name can lock others out:

- per login name *and* address together (`login_rate_limit`): the usual lockout, which
  nobody at another address can trigger;
- per login name from every address (`login_account_rate_limit`): guessing spread over
  many addresses; an address where the account logged in before is exempt, so a
  stranger filling it does not lock the owner out at home or in the office;
- per address over every login name (`login_ip_rate_limit`): password spraying.

At `/fresh` the signed-in user's id takes the login name's place. Each kind of key has
a space of its own (`RateLimiter`), so no value a client sends names another's counter;
ids are kept exact (never case-folded), and an IPv6 address counts as its /64.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from limits import parse

from authmanager._core.ratelimit import RateLimiter
from authmanager._core.settings import AuthSettings
from authmanager.exceptions import RateLimitExceededError

__all__ = ["Attempt", "LoginLimiter"]

# Key spaces: constants, one per kind of thing counted.
PAIR = "login-pair"  # (address, login name, generation)
ACCOUNT = "login-account"  # login name
ADDRESS = "login-ip"  # client address
KNOWN = "login-known"  # (address, login name) that logged in successfully
GENERATION = "login-generation"  # login name: `unlock` moves it on, outdating its pair keys
FRESH = "fresh-user"  # user id, at /fresh
REFRESH = "refresh-session"  # login session id

#: How long an address where a login succeeded stays exempt from that login's account limit.
KNOWN_FOR = parse("1/30 days")
_DAY = 24 * 3600


def _norm(login: str) -> str:
    return login.strip().lower()


def _exact(identifier: str) -> str:
    """*identifier* in a form `RateLimiter`'s case folding leaves distinct (ids, not names)."""
    return identifier.encode("utf-8", "surrogatepass").hex()


def _address(ip: str) -> str:
    """The unit an address limit counts: the address, or an IPv6 address's /64.

    One IPv6 host usually holds a whole /64 and could change address at every attempt.
    """
    try:
        parsed = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


@dataclass(slots=True)
class Attempt:
    """One password check: by login name (`/login`) or by the signed-in user (`/fresh`).

    `LoginLimiter.attempt` hands it out; `reserved` marks an attempt that passed the
    address check and is not counted yet, so a concurrent burst cannot outrun it.
    """

    ip: str | None
    login: str | None = None
    user_id: str | None = None
    reserved: bool = False


@dataclass(slots=True)
class _Turn:
    """The lock of one login name (or user) and how many attempts hold or await it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class LoginLimiter:
    """Count failed password checks and refreshes; checked before any hashing.

    A successful login costs nothing. When the storage cannot be reached, every
    check fails closed with `TokenStoreUnavailableError`. Within one process, attempts
    on one login name (or user) take turns, so a burst cannot pass the check before its
    failures are counted; attempts from one address over many names are bounded by
    reservations instead (a lock per address would queue a whole office).

    Args:
        settings: The limits (`login_rate_limit`, `login_account_rate_limit`,
            `login_ip_rate_limit`, `refresh_rate_limit`).
        limiter: The counters.
    """

    def __init__(self, settings: AuthSettings, limiter: RateLimiter) -> None:
        self._pair = RateLimiter.rule(settings.login_rate_limit)
        self._account = RateLimiter.rule(settings.login_account_rate_limit)
        self._address = RateLimiter.rule(settings.login_ip_rate_limit)
        self._refresh = RateLimiter.rule(settings.refresh_rate_limit)
        self._limiter = limiter
        self._turns: dict[tuple[str, str], _Turn] = {}
        self._reserved: dict[str, int] = {}
        # A pair key outlives its window in no generation: a forgotten generation (0
        # again) can only name counters that have long expired.
        self._generation_ttl = max(_DAY, 2 * self._pair.get_expiry() if self._pair else 0)

    @asynccontextmanager
    async def attempt(
        self, login: str | None = None, *, ip: str | None = None, user_id: str | None = None
    ) -> AsyncIterator[Attempt]:
        """Hold the turn of *login* (normalised) or *user_id*, from the check to the outcome.

        Attempts on one name run one at a time in this process; a lock exists only
        while some attempt holds or awaits it.
        """
        attempt = Attempt(ip=ip, login=login, user_id=user_id)
        key = self._turn_key(attempt)
        if key is None:
            try:
                yield attempt
            finally:
                self._release(attempt)
            return
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield attempt
        finally:
            self._release(attempt)
            turn.users -= 1
            if turn.users == 0:
                del self._turns[key]

    def _turn_key(self, attempt: Attempt) -> tuple[str, str] | None:
        if attempt.user_id is not None:
            return ("user", attempt.user_id) if self._pair else None
        if attempt.login and (self._pair or self._account):
            return ("login", _norm(attempt.login))
        return None

    async def check(self, attempt: Attempt) -> None:
        """Raise `RateLimitExceededError` if any limit of *attempt* is reached; count nothing."""
        limiter = self._limiter
        if attempt.user_id is not None:
            if self._pair is not None:
                await limiter.check(FRESH, _exact(attempt.user_id), self._pair)
        elif attempt.login:
            if self._pair is not None:
                await limiter.check(PAIR, await self._pair_value(attempt), self._pair)
            if self._account is not None and not await self._known(attempt):
                await limiter.check(ACCOUNT, attempt.login, self._account)
        if self._address is not None and attempt.ip:
            address = _address(attempt.ip)
            remaining, retry_after = await limiter.window(ADDRESS, address, self._address)
            if remaining <= self._reserved.get(address, 0):
                raise RateLimitExceededError(retry_after=retry_after if remaining <= 0 else 1)
            self._reserved[address] = self._reserved.get(address, 0) + 1
            attempt.reserved = True

    async def failed(self, attempt: Attempt) -> None:
        """Count one failed password check of *attempt* against each of its limits."""
        limiter = self._limiter
        try:
            if attempt.user_id is not None:
                if self._pair is not None:
                    await limiter.record(FRESH, _exact(attempt.user_id), self._pair)
            elif attempt.login:
                if self._pair is not None:
                    await limiter.record(PAIR, await self._pair_value(attempt), self._pair)
                if self._account is not None:
                    await limiter.record(ACCOUNT, attempt.login, self._account)
            if self._address is not None and attempt.ip:
                await limiter.record(ADDRESS, _address(attempt.ip), self._address)
        finally:
            self._release(attempt)

    async def succeeded(self, attempt: Attempt) -> None:
        """Remember the address of a successful login: it is exempt from the account limit."""
        try:
            if self._account is not None and attempt.login and attempt.user_id is None:
                value = self._known_value(attempt)
                if not await self._limiter.reached(KNOWN, value, KNOWN_FOR):
                    await self._limiter.record(KNOWN, value, KNOWN_FOR)
        finally:
            self._release(attempt)

    async def unlock(self, login: str | None, ip: str | None) -> None:
        """Lift the limits of *login* (from every address) and of the address *ip*."""
        if login:
            if self._account is not None:
                await self._limiter.clear(ACCOUNT, login, self._account)
            await self._limiter.next_generation(GENERATION, login, ttl=self._generation_ttl)
        if ip and self._address is not None:
            await self._limiter.clear(ADDRESS, _address(ip), self._address)

    async def hit_refresh(self, session_id: str) -> None:
        """Count one refresh of the session; raise `RateLimitExceededError` over the limit.

        Per session, never per address: an office behind one NAT refreshes as one address.
        """
        if self._refresh is not None:
            await self._limiter.hit(REFRESH, _exact(session_id), self._refresh)

    async def reset(self) -> None:
        """Forget every count (for tests and administrators); see `RateLimiter.reset`."""
        await self._limiter.reset()

    async def aclose(self) -> None:
        """Close the storage's connections (see `RateLimiter.aclose`)."""
        await self._limiter.aclose()

    def _release(self, attempt: Attempt) -> None:
        if not attempt.reserved or attempt.ip is None:
            return
        attempt.reserved = False
        address = _address(attempt.ip)
        left = self._reserved.get(address, 0) - 1
        if left > 0:
            self._reserved[address] = left
        else:
            self._reserved.pop(address, None)

    async def _pair_value(self, attempt: Attempt) -> str:
        assert attempt.login is not None  # noqa: S101 - login attempts only
        generation = await self._limiter.generation(GENERATION, attempt.login)
        # JSON, so no login name can end like an address and start another pair.
        return json.dumps([_address(attempt.ip or ""), _norm(attempt.login), generation])

    def _known_value(self, attempt: Attempt) -> str:
        assert attempt.login is not None  # noqa: S101 - login attempts only
        return json.dumps([_address(attempt.ip or ""), _norm(attempt.login)])

    async def _known(self, attempt: Attempt) -> bool:
        if not attempt.ip:
            return False
        return await self._limiter.reached(KNOWN, self._known_value(attempt), KNOWN_FOR)
