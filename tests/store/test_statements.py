"""Round trips: the SQL each core method runs, counted on the engine (both databases)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import AuthManager
from tests.app import User
from tests.conftest import MakeManager
from tests.support.factories import claims


@dataclass
class Counter:
    """Statements sent to the database, and transaction ends, while counting."""

    statements: list[str] = field(default_factory=list)
    commits: int = 0
    rollbacks: int = 0

    @property
    def work(self) -> list[str]:
        """The statements that do work: without SQLite's explicit `BEGIN [IMMEDIATE]`."""
        return [s for s in self.statements if not s.upper().startswith("BEGIN")]

    @property
    def begins(self) -> int:
        """Explicit BEGIN statements (SQLite write transactions use BEGIN IMMEDIATE)."""
        return len(self.statements) - len(self.work)

    @property
    def verbs(self) -> list[str]:
        """The first word of each work statement (SELECT, INSERT, UPDATE, ...)."""
        return [s.split(None, 1)[0].upper() for s in self.work]

    def summary(self) -> str:
        """One line for the log: verbs, BEGINs, COMMITs."""
        return f"{self.verbs} begins={self.begins} commits={self.commits}"


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Counter]:
    """Count cursor executions, COMMITs and ROLLBACKs on *engine* inside the block."""
    counter = Counter()
    sync = engine.sync_engine

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counter.statements.append(statement)

    def on_commit(_conn: Any) -> None:
        counter.commits += 1

    def on_rollback(_conn: Any) -> None:
        counter.rollbacks += 1

    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync, "commit", on_commit)
    event.listen(sync, "rollback", on_rollback)
    try:
        yield counter
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync, "commit", on_commit)
        event.remove(sync, "rollback", on_rollback)


async def listening(manager: AuthManager[User], token: str) -> None:
    """Wait until the state cache serves *token* (on PostgreSQL: its LISTEN is up)."""
    for _ in range(500):
        await manager.verify_token(token)
        with counting(manager.session_factory.kw["bind"]) as sent:
            await manager.verify_token(token)
        if not sent.statements:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the state cache never served the token")


async def test_verify_token_is_one_statement_then_none(
    manager: AuthManager[User], user: User, engine: AsyncEngine
) -> None:
    """The first check of a token is one SELECT, writing nothing; later ones are cache hits."""
    warm = await manager.create_token_pair(claims(user))
    await manager.verify_token(warm.access_token)  # warm the pool and dialect
    await listening(manager, warm.access_token)
    pair = await manager.create_token_pair(claims(user))
    with counting(engine) as first:
        await manager.verify_token(pair.access_token)
    with counting(engine) as second:
        await manager.verify_token(pair.access_token)
    print(f"\n[{engine.dialect.name}] verify_token: {first.summary()} then {second.summary()}")
    assert first.statements == first.work  # not even a BEGIN
    assert first.verbs == ["SELECT"]
    assert first.commits == 0
    assert second.statements == []


async def test_verify_token_without_the_cache_is_one_statement_each_time(
    make_manager: MakeManager, user: User, engine: AsyncEngine
) -> None:
    """With `state_cache="off"`, every check is exactly one SELECT."""
    manager = make_manager(state_cache="off")
    pair = await manager.create_token_pair(claims(user))
    await manager.verify_token(pair.access_token)
    for _ in range(2):
        with counting(engine) as counter:
            await manager.verify_token(pair.access_token)
        assert counter.verbs == ["SELECT"]
        assert counter.statements == counter.work


async def test_create_token_pair_is_one_transaction(
    manager: AuthManager[User], user: User, engine: AsyncEngine
) -> None:
    """A new session is written in one transaction: two INSERTs and one COMMIT."""
    await manager.create_token_pair(claims(user))  # warm up
    with counting(engine) as counter:
        await manager.create_token_pair(claims(user))
    print(f"\n[{engine.dialect.name}] create_token_pair: {counter.summary()}")
    assert counter.commits == 1
    assert counter.begins <= 1
    assert counter.rollbacks == 0
    assert counter.verbs == ["INSERT", "INSERT"]


async def test_refresh_is_one_transaction(
    manager: AuthManager[User], user: User, engine: AsyncEngine
) -> None:
    """A rotation is one transaction with one consuming UPDATE ... RETURNING."""
    pair = await manager.create_token_pair(claims(user))
    await manager.verify_token(pair.access_token)  # warm up
    with counting(engine) as counter:
        await manager.refresh(pair.refresh_token)
    print(f"\n[{engine.dialect.name}] refresh: {counter.summary()}")
    assert counter.commits == 1
    assert counter.begins <= 1
    consuming = [s for s in counter.work if s.upper().startswith("UPDATE AUTHMANAGER_TOKENS")]
    assert len(consuming) == 1
    assert "RETURNING" in consuming[0].upper()
    assert counter.verbs.count("INSERT") == 1


async def test_revoke_all_is_one_transaction(
    manager: AuthManager[User], user: User, engine: AsyncEngine
) -> None:
    """revoke_all_user_tokens commits once, whatever the number of sessions."""
    for _ in range(3):
        await manager.create_token_pair(claims(user))
    with counting(engine) as counter:
        assert await manager.revoke_all_user_tokens(str(user.id)) == 6
    print(f"\n[{engine.dialect.name}] revoke_all_user_tokens: {counter.summary()}")
    assert counter.commits == 1
    # PostgreSQL: one `SELECT pg_notify(...)` tells the other hosts' caches what ended.
    notify = [s for s in counter.work if "pg_notify" in s]
    assert len(notify) == (1 if engine.dialect.name == "postgresql" else 0)
    assert len(counter.work) - len(notify) <= 4
