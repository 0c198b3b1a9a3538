"""Database: transactions and pooled reads on the application's session factory.

Every capability's SQL runs inside `transaction()` or `reading()`; database errors are
translated here, once, into `TokenStoreUnavailableError`, so the library fails closed
without any other module seeing a foreign exception.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from authmanager._core.slots import Key
from authmanager._core.sqlite import READ_OPTION, WRITE_OPTION
from authmanager._core.statecache import CHANNEL, REVOKES, StateCache
from authmanager.exceptions import TokenStoreUnavailableError

__all__ = ["OWN", "STORE_ERRORS", "Database", "unavailable"]

logger = logging.getLogger("authmanager.store")

#: Errors that mean "the store cannot answer": fail closed on every one of them.
STORE_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)
#: `Session.info` key: a transaction opened by `Database.transaction()`.
OWN = "authmanager_own"
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
T = TypeVar("T")
Reader = AsyncSession | AsyncConnection


def unavailable(exc: BaseException) -> TokenStoreUnavailableError:
    """Log the failure's type (never its text) and return the error to raise instead."""
    logger.warning("token store unavailable: %s", type(exc).__name__)
    return TokenStoreUnavailableError()


class Database:
    """The application's `async_sessionmaker`, with the library's transaction rules.

    Args:
        session_factory: The application's factory, bound to one engine (or to several).
        state_cache: The state cache whose epoch a revoking transaction bumps.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        state_cache: StateCache | None = None,
    ) -> None:
        self.factory = session_factory
        self._cache = state_cache
        bind = session_factory.kw.get("bind")
        # A plain factory bound to one engine: the per-request reads skip the ORM
        # session and the transaction: no BEGIN/ROLLBACK round trips around one SELECT
        # (on PostgreSQL autocommit is a driver flag; on SQLite see READ_OPTION).
        self._engine: AsyncEngine | None = None
        if isinstance(bind, AsyncEngine) and not session_factory.kw.get("binds"):
            if bind.dialect.name == "postgresql":
                self._engine = bind.execution_options(isolation_level="AUTOCOMMIT")
            else:
                self._engine = bind.execution_options(**{READ_OPTION: True})

    @asynccontextmanager
    async def transaction(self, session: AsyncSession | None = None) -> AsyncIterator[AsyncSession]:
        """Yield the caller's *session* untouched, or a new one inside `begin()`.

        A transaction that revoked (see `revoking`) marks the state cache's slots of
        what it revoked pending just before its commit, announces them to other hosts
        inside the transaction, and releases them right after the commit (or rollback).

        Raises:
            TokenStoreUnavailableError: the database failed or could not be reached.
        """
        slots: set[int] = set()
        try:
            if session is not None:
                yield session
                return
            async with self.factory() as db:
                db.info[OWN] = True
                async with db.begin():
                    # On SQLite this begins IMMEDIATE (see sqlite.py): read-then-write
                    # transactions that race would otherwise fail with "database is locked".
                    await db.connection(execution_options={WRITE_OPTION: True})
                    yield db
                    keys: set[Key] | None = db.info.get(REVOKES)
                    if self._cache is not None and keys:
                        if self._cache.notifies:
                            await self._announce(db, keys)
                        slots = self._cache.slots_of(keys)
                        self._cache.begin(slots)  # from here until `end`: states bypassed
        except STORE_ERRORS as exc:
            raise unavailable(exc) from exc
        finally:
            if slots and self._cache is not None:
                self._cache.end(slots)

    async def revoking(self, db: AsyncSession, keys: Iterable[Key]) -> None:
        """Record that *db*'s transaction revokes what *keys* name (the state cache's rule).

        In a transaction of `transaction()`, the keys are handled at its commit. In a
        caller's session, the slots are marked pending now (and announced to other hosts
        in the same transaction), and released when that transaction ends.
        """
        cache = self._cache
        if cache is None:
            return
        keys = set(keys)
        if db.info.get(OWN):
            db.info.setdefault(REVOKES, set()).update(keys)
            return
        if cache.notifies:
            await self._announce(db, keys)
        slots = cache.slots_of(keys)
        cache.begin(slots)
        released = False

        def release(_session: Any, transaction: Any) -> None:
            nonlocal released
            if transaction.parent is None and not released:  # the outermost one, once
                released = True
                cache.end(slots)

        event.listen(db.sync_session, "after_transaction_end", release)

    async def _announce(self, db: AsyncSession, keys: set[Key]) -> None:
        assert self._cache is not None  # noqa: S101
        payload = self._cache.announcement(keys)
        await db.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})

    async def read(
        self, work: Callable[[Reader], Awaitable[T]], session: AsyncSession | None = None
    ) -> T:
        """Run *work*, one read-only statement, on a pooled connection (or the caller's *session*).

        A pooled connection the server has closed (a restart, an idle timeout, a killed
        backend) fails the read with an invalidated connection; the read is run once more
        on a fresh one, so a restart costs requests only while the database is really down.

        Raises:
            TokenStoreUnavailableError: the database failed or could not be reached.
        """
        if session is not None or self._engine is None:
            async with self.reading(session) as db:
                return await work(db)
        for attempt in (1, 2):
            try:
                async with self._engine.connect() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    continue
                raise unavailable(exc) from exc
            except STORE_ERRORS as exc:
                raise unavailable(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def read_with_session(self, work: Callable[[Reader, AsyncSession], Awaitable[T]]) -> T:
        """`read` for a Core look-up then the user loader: (connection, session on it).

        Raises:
            TokenStoreUnavailableError: the database failed or could not be reached.
        """
        if self._engine is None:
            async with self.reading() as db:
                return await work(db, db)
        for attempt in (1, 2):
            try:
                async with self._engine.connect() as conn, self.factory(bind=conn) as db:
                    return await work(conn, db)
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    continue
                raise unavailable(exc) from exc
            except STORE_ERRORS as exc:
                raise unavailable(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def reading(self, session: AsyncSession | None = None) -> AsyncIterator[AsyncSession]:
        """Like `transaction`, for read-only work: nothing is committed."""
        try:
            if session is not None:
                yield session
                return
            async with self.factory() as db:
                yield db
        except STORE_ERRORS as exc:
            raise unavailable(exc) from exc

    @asynccontextmanager
    async def connection(
        self, session: AsyncSession | None = None
    ) -> AsyncIterator[AsyncSession | AsyncConnection]:
        """Like `reading`, for one Core SELECT: a pooled connection, no ORM session.

        The caller's *session* is used when given. No transaction is begun, so run a
        single statement in it, and never a write.

        Raises:
            TokenStoreUnavailableError: the database failed or could not be reached.
        """
        if session is not None or self._engine is None:
            async with self.reading(session) as db:
                yield db
            return
        try:
            async with self._engine.connect() as conn:
                yield conn
        except STORE_ERRORS as exc:
            raise unavailable(exc) from exc

    @asynccontextmanager
    async def user_reading(
        self,
    ) -> AsyncIterator[tuple[AsyncSession | AsyncConnection, AsyncSession]]:
        """Yield (connection, session on it): a Core look-up, then the user loader.

        One pooled connection, no transaction (as in `connection`); both are read-only.

        Raises:
            TokenStoreUnavailableError: the database failed or could not be reached.
        """
        if self._engine is None:
            async with self.reading() as db:
                yield db, db
            return
        try:
            async with self._engine.connect() as conn, self.factory(bind=conn) as db:
                yield conn, db
        except STORE_ERRORS as exc:
            raise unavailable(exc) from exc
