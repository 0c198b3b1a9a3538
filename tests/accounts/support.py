"""Support of the account-flow tests: a loader with the optional methods, session adapters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager, ClientInfo, SQLAlchemyUserLoader, TokenPair
from authmanager._core.events import HookDispatcher
from authmanager._core.passwords import PasswordHasher
from authmanager._core.ratelimit import RateLimiter
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._service import AccountService
from authmanager.accounts._tokens import ActionTokens
from authmanager.accounts.tables import action_tokens
from authmanager.testing import CapturingHook, CapturingSender
from tests.app import User


class AccountUsers(SQLAlchemyUserLoader[User]):
    """The test app's users with every optional method; `/register` may set `display_name`."""

    def __init__(self) -> None:
        super().__init__(User, login_field="email", register_fields=("display_name",))


class ManagerSessions:
    """The two session seams of the account flows: the real manager's services.

    `start` is the manager's `SessionService.start` (every token of the session carries
    `amr`); `revoke_user` its `RevocationService.revoke_user`, recording the reasons.
    """

    def __init__(self, manager: AuthManager[User]) -> None:
        self._manager = manager
        self.reasons: list[str] = []

    async def start(
        self,
        user: Any,
        *,
        client: ClientInfo,
        amr: Sequence[str],
        fresh: bool = True,
        session: AsyncSession | None = None,
    ) -> TokenPair:
        return await self._manager.create_token_pair(
            {"sub": str(user.id)}, client=client, fresh=fresh, amr=amr, session=session
        )

    async def revoke_user(
        self, user_id: str, *, reason: str, session: AsyncSession | None = None
    ) -> int:
        self.reasons.append(reason)
        return await self._manager._revocations.revoke_user(user_id, reason=reason, session=session)


class CountingHasher(PasswordHasher):
    """The real hasher, counting the hashes it makes."""

    hashes = 0

    async def hash_async(self, password: str) -> str:
        self.hashes += 1
        return await super().hash_async(password)


@dataclass
class Accounts:
    """An `AccountService` and everything around it, on the test database."""

    service: AccountService[User]
    tokens: ActionTokens
    outbox: Outbox
    dispatcher: HookDispatcher
    sender: Any
    events: CapturingHook
    manager: AuthManager[User]
    sessions: ManagerSessions
    limiter: RateLimiter
    hasher: CountingHasher
    users: Any
    factory: async_sessionmaker[AsyncSession]

    async def settle(self) -> None:
        """Let every background job, message and event finish."""
        await self.outbox.drain()
        await self.dispatcher.drain()
        await self.manager.drain_events()

    @property
    def captured(self) -> CapturingSender:
        assert isinstance(self.sender, CapturingSender)
        return self.sender

    async def token_rows(self, **where: Any) -> list[Any]:
        async with self.factory() as db:
            query = select(action_tokens).filter_by(**where)
            return list((await db.execute(query)).all())

    async def count_users(self) -> int:
        async with self.factory() as db:
            return int((await db.execute(select(func.count()).select_from(User))).scalar_one())

    async def user_by_email(self, email: str) -> User | None:
        async with self.factory() as db:
            return await AccountUsers().get_user_by_login(db, email)


@contextmanager
def statements(accounts: Accounts) -> Iterator[list[str]]:
    """Record the SQL statements run on the test engine while the block runs."""
    seen: list[str] = []
    engine = accounts.factory.kw["bind"].sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
