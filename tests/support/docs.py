"""The documentation's examples, loaded as a reader would run them."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from authmanager import AuthManager, metadata
from authmanager.testing import TEST_SECRET

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

#: The `load` fixtures: import `docs/examples/<name>.py` and return the module.
Load = Callable[[str], ModuleType]


def reader_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> None:
    """The reader's shell: a working directory, a secret, a cheap bcrypt cost, a database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JWT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("AUTH_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.syspath_prepend(str(EXAMPLES))


def import_example(name: str, prefix: str = "docs_example") -> ModuleType:
    """Execute `docs/examples/<name>.py` as module `<prefix>_<name>`."""
    spec = importlib.util.spec_from_file_location(f"{prefix}_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def close_examples(modules: list[ModuleType]) -> None:
    """Drain the examples' managers and dispose of their engines."""
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, AuthManager):
                await value.drain_events()
        engine = getattr(module, "engine", None)
        if isinstance(engine, AsyncEngine):
            await engine.dispose()


async def clean_postgres(url: str) -> None:
    """Leave the session's PostgreSQL database as the examples found it."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS users"))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
    await engine.dispose()


async def create_tables(module: ModuleType) -> None:
    """Create the example's user table and authmanager's tables, as its lifespan would."""
    from app_models import Base  # the examples' own module, on sys.path

    async with module.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(metadata.create_all)


async def add_user(
    module: ModuleType,
    email: str = "ada@example.com",
    password: str = "correct horse battery staple",
    *,
    role: str = "user",
    manager: Any = None,
) -> Any:
    """Insert a user of `app_models.User` through the example's session factory."""
    from app_models import User

    auth = manager or module.auth
    hashed = await auth.hash_password_async(password)
    async with module.sessions.begin() as db:
        user = User(email=email, hashed_password=hashed, role=role)
        db.add(user)
    return user
