"""Fixtures of the account-flow tests: a service on the test database, real collaborators."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authmanager import AuthManager
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._service import AccountService
from authmanager.accounts._tokens import ActionTokens
from authmanager.testing import CapturingHook, CapturingSender, test_settings
from tests.accounts import smtp_server
from tests.accounts.http_support import AccountApp, MakeAccountApp
from tests.accounts.smtp_server import Mailbox
from tests.accounts.support import Accounts, AccountUsers, CountingHasher, ManagerSessions
from tests.app import User, make_app
from tests.conftest import MakeManager, client_for

MakeAccounts = Callable[..., Accounts]


@pytest.fixture
async def make_accounts(
    session_factory: async_sessionmaker[AsyncSession],
    make_manager: MakeManager,
    events: CapturingHook,
) -> AsyncIterator[MakeAccounts]:
    """Build the account flows; keyword arguments override settings.

    `sender=` replaces the `CapturingSender`, `users=` the loader, `limiter_url=` the
    rate-limit storage. Background work is drained at the end of the test.
    """
    built: list[Accounts] = []

    def factory(
        *,
        sender: Any = None,
        users: Any = None,
        limiter_url: str = "memory://",
        **overrides: Any,
    ) -> Accounts:
        overrides.setdefault("sender_timeout_seconds", 2.0)
        manager = make_manager(**overrides)
        settings = manager.settings
        database = Database(session_factory)
        dispatcher = HookDispatcher([events], timeout=2.0)
        sender = CapturingSender() if sender is None else sender
        outbox = Outbox(sender, events=dispatcher, timeout=settings.sender_timeout_seconds)
        tokens = ActionTokens(database=database)
        limiter = RateLimiter(limiter_url)
        hasher = CountingHasher(settings)
        sessions = ManagerSessions(manager)
        users = AccountUsers() if users is None else users
        service: AccountService[Any] = AccountService(
            settings=settings,
            database=database,
            users=users,
            hasher=hasher,
            tokens=tokens,
            outbox=outbox,
            limiter=limiter,
            events=dispatcher,
            sessions=sessions,
            revoker=sessions,
        )
        accounts = Accounts(
            service=service,
            tokens=tokens,
            outbox=outbox,
            dispatcher=dispatcher,
            sender=sender,
            events=events,
            manager=manager,
            sessions=sessions,
            limiter=limiter,
            hasher=hasher,
            users=users,
            factory=session_factory,
        )
        built.append(accounts)
        return accounts

    yield factory
    for accounts in built:
        await accounts.settle()


@pytest.fixture
def accounts(make_accounts: MakeAccounts) -> Accounts:
    """The account flows with test settings (verification not required, limits on)."""
    return make_accounts()


@pytest.fixture
def make_accounts_free(make_accounts: MakeAccounts) -> Accounts:
    """The account flows with the account rate limit off."""
    return make_accounts(account_rate_limit="")


@pytest.fixture
async def make_account_app(
    session_factory: async_sessionmaker[AsyncSession], events: CapturingHook
) -> AsyncIterator[MakeAccountApp]:
    """Build `AuthManager(..., sender=...)` and the test app; keyword arguments are settings.

    `sender=` replaces the `CapturingSender`, `users=` the loader. Clients are closed
    and managers shut down (`aclose`: outbox drained, limiter closed) at the end.
    """
    built: list[AccountApp] = []

    def factory(*, sender: Any = None, users: Any = None, **overrides: Any) -> AccountApp:
        overrides.setdefault("sender_timeout_seconds", 2.0)
        sender = CapturingSender() if sender is None else sender
        manager: AuthManager[User] = AuthManager(
            settings=test_settings(**overrides),
            session_factory=session_factory,
            user_loader=AccountUsers() if users is None else users,
            hooks=[events],
            sender=sender,
        )
        app = AccountApp(
            manager=manager,
            client=client_for(make_app(manager)),
            sender=sender,
            events=events,
            factory=session_factory,
        )
        built.append(app)
        return app

    yield factory
    for app in built:
        await app.client.aclose()
        await app.manager.aclose()


@pytest.fixture
def account_app(make_account_app: MakeAccountApp) -> AccountApp:
    """The account routes with test settings (verification not required, limits on)."""
    return make_account_app()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return smtp_server.self_signed(tmp_path)


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


def running(controller: Controller) -> Iterator[int]:
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture
def plain_server(mailbox: Mailbox) -> Iterator[int]:
    """A plain SMTP server (no TLS offered)."""
    port = smtp_server.free_port()
    yield from running(Controller(mailbox, hostname="127.0.0.1", port=port))


@pytest.fixture
def starttls_server(mailbox: Mailbox, certificate: tuple[Path, Path]) -> Iterator[int]:
    """A server that requires STARTTLS and AUTH after it."""
    yield from running(smtp_server.starttls_controller(mailbox, certificate))
