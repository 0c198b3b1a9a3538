"""AccountKit: what every account flow shares (collaborators, limits, look-ups, checks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.passwords import PasswordHasher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.settings import AuthSettings
from authmanager._core.types import ClientInfo
from authmanager._core.users import user_is_active
from authmanager.accounts._errors import InvalidAddressError, MissingLoaderMethodError
from authmanager.accounts._mailer import ADDRESS_KEY, AccountMailer, link_lifetimes
from authmanager.accounts._messages import LinkTemplates
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._policy import PasswordPolicy, ensure_login_allowed
from authmanager.accounts._ports import OPTIONAL_METHODS, AccountUserLoader, loader_method
from authmanager.accounts._tokens import ActionToken, ActionTokens
from authmanager.exceptions import InvalidTokenError, Reason

__all__ = ["NO_CLIENT", "AccountKit", "client_fields", "same_address", "user_id_of"]

UserT = TypeVar("UserT")
NO_CLIENT = ClientInfo()
_MAX_LOGIN = 320
#: Rate-limit key spaces of the account flows (constants, never client input).
_IP_SPACE, _ADDRESS_SPACE, _TOKEN_IP_SPACE = "account-ip", "account-address", "account-token-ip"


class AccountKit(Generic[UserT]):
    """The collaborators of the account flows and the steps they all take.

    Every request that sends mail is counted per client IP and per address
    (`account_rate_limit`) before any work, whether or not the account exists; failed
    token confirmations are counted per client IP.

    Args:
        settings: Account settings (rate limit, templates, lifetimes, password policy).
        database: The flows' transactions (the token store's `Database`, so revocations
            made inside them reach the state cache).
        users: The application's loader; its optional methods enable what needs them.
        hasher: Hashes new passwords off the event loop.
        tokens: The single-use action tokens.
        outbox: Runs the background jobs and calls the sender.
        limiter: Counts requests per IP and per address.
        events: Receives the account events.

    Raises:
        TypeError: an optional loader method is not `async def`, or
            `require_verified_email` is on and the loader has no `set_verified`.
        ValueError: a link template or the password policy is unusable.
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        database: Database,
        users: AccountUserLoader[UserT],
        hasher: PasswordHasher,
        tokens: ActionTokens,
        outbox: Outbox,
        limiter: RateLimiter,
        events: HookDispatcher,
    ) -> None:
        self._methods = {name: loader_method(users, name) for name in OPTIONAL_METHODS}
        if settings.require_verified_email and self._methods["set_verified"] is None:
            raise TypeError(
                "AUTH_REQUIRE_VERIFIED_EMAIL is on but the user loader has no "
                "set_verified(session, user): no user could ever log in."
            )
        self.require_verified = settings.require_verified_email
        self.users_check_fields: Callable[[dict[str, object]], object] | None = getattr(
            users, "check_fields", None
        )
        """The loader's optional `check_fields(fields)` (plain or async; `ValueError` refuses)."""
        self.db, self.users, self.hasher, self.tokens = database, users, hasher, tokens
        self.events = events
        self.outbox = outbox
        self.policy = PasswordPolicy(settings)
        self.mailer = AccountMailer(
            tokens=tokens,
            outbox=outbox,
            links=LinkTemplates(settings),
            lifetimes=link_lifetimes(settings),
            events=events,
        )
        self._limiter, self._rule = limiter, limiter.rule(settings.account_rate_limit)

    def optional(self, name: str) -> Callable[..., Awaitable[Any]] | None:
        """The loader's optional method *name*, or None."""
        return self._methods[name]

    def method(self, name: str) -> Callable[..., Awaitable[Any]]:
        """The loader's optional method *name*; `MissingLoaderMethodError` when it is missing."""
        method = self._methods[name]
        if method is None:
            raise MissingLoaderMethodError(f"This account flow needs a user loader with {name}().")
        return method

    def check_login(self, user: object) -> None:
        """Raise `EmailNotVerifiedError` when verification is required and missing."""
        ensure_login_allowed(user, require_verified_email=self.require_verified)

    async def limit(self, client: ClientInfo, address: str) -> None:
        """Count one request per IP and per address; raise `RateLimitExceededError` over it."""
        if self._rule is None:
            return
        if client.ip_address:
            await self._limiter.hit(_IP_SPACE, client.ip_address, self._rule)
        await self._limiter.hit(_ADDRESS_SPACE, address, self._rule)

    async def find_active(
        self, login: str, client: ClientInfo, session: AsyncSession | None
    ) -> tuple[UserT | None, str]:
        """Limit, then look *login* up: (the active user or None, the address to write to).

        Raises:
            InvalidAddressError: *login* is empty, over-long or not printable.
        """
        login = login.strip() if isinstance(login, str) else ""
        if not login or len(login) > _MAX_LOGIN or not login.isprintable():
            raise InvalidAddressError("The login is malformed.")
        await self.limit(client, login)
        async with self.db.reading(session) as db:
            user = await self.users.get_user_by_login(db, login)
        if user is None or not user_is_active(user):
            return None, login
        return user, self.address_of(user) or login

    @asynccontextmanager
    async def token_step(self, client: ClientInfo | None) -> AsyncIterator[dict[str, Any]]:
        """Refuse an IP over the limit of failed confirmations; count each failure.

        Yields the client's event fields.
        """
        client = client or NO_CLIENT
        ip = client.ip_address
        if self._rule is not None and ip:
            await self._limiter.check(_TOKEN_IP_SPACE, ip, self._rule)
        try:
            yield client_fields(client)
        except InvalidTokenError:
            if self._rule is not None and ip:
                await self._limiter.record(_TOKEN_IP_SPACE, ip, self._rule)
            raise

    async def account(
        self, db: AsyncSession, action: ActionToken, *, sent_to: str | None = None
    ) -> UserT:
        """The live user of *action*, whose address is still the one the link went to.

        Raises:
            InvalidTokenError: the user is gone or inactive, or the address changed.
        """
        user = await self.users.get_user(db, action.user_id)
        if user is None:
            raise InvalidTokenError(reason=Reason.USER_NOT_FOUND)
        if not user_is_active(user):
            raise InvalidTokenError(reason=Reason.USER_INACTIVE)
        sent = sent_to if sent_to is not None else action.data.get(ADDRESS_KEY)
        current = self.address_of(user)
        # A link mailed to an address the account no longer has must not act on it.
        if current is not None and isinstance(sent, str) and not same_address(current, sent):
            raise InvalidTokenError(reason=Reason.REVOKED)
        return user

    def address_of(self, user: object, *, required: bool = False) -> str | None:
        """The user's address: the loader's `login_of(user)`, else `email` or `login`.

        Raises:
            TypeError: *required* and no address can be found.
        """
        login_of = getattr(self.users, "login_of", None)
        value = login_of(user) if login_of is not None else None
        for name in ("email", "login"):
            if value is None:
                value = getattr(user, name, None)
        if isinstance(value, str) and value:
            return value
        if required:
            raise TypeError("The user's address is unknown: give the loader login_of(user).")
        return None


def user_id_of(user: object) -> str:
    """The user's id as the token store keeps it."""
    return str(getattr(user, "id", ""))


def same_address(a: str, b: str) -> bool:
    """Whether two logins name the same address (case-insensitively)."""
    return a.strip().casefold() == b.strip().casefold()


def client_fields(client: ClientInfo) -> dict[str, Any]:
    """The event fields describing *client*."""
    return {"client_ip": client.ip_address, "user_agent": client.user_agent}
