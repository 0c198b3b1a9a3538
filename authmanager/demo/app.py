"""The demo application: a complete API protected by authmanager, on a SQLite file.

`create_app(db_url)` builds it; `python -m authmanager.demo` serves it with uvicorn.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authmanager import AuthManager, AuthSettings, install_exception_handlers
from authmanager.demo.identities import DemoUsers, provider_buttons

__all__ = ["DEMO_EMAIL", "DemoUser", "create_app", "demo_settings"]

DEMO_EMAIL = "demo@example.com"


class Base(DeclarativeBase):
    """The demo's own declarative base (its users live beside authmanager's tables)."""


class DemoUser(Base):
    """A minimal user: an email to log in with, a password hash, an active flag.

    An account made by a provider sign-in has no password (`hashed_password` None).
    """

    __tablename__ = "demo_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


def demo_settings() -> AuthSettings:
    """Settings for the demo: the environment, with plain-http cookies and a random secret.

    The demo serves plain http, so `cookie_secure` is off unless `AUTH_COOKIE_SECURE` is
    set; without `JWT_SECRET_KEY` a random secret is drawn (tokens end with the process).
    """
    overrides: dict[str, Any] = {}
    if "AUTH_COOKIE_SECURE" not in os.environ:
        overrides["cookie_secure"] = False
    if "JWT_SECRET_KEY" not in os.environ:
        overrides["secret_key"] = secrets.token_urlsafe(64)
    return AuthSettings(**overrides)


async def _ensure_demo_user(
    auth: AuthManager[DemoUser], factory: async_sessionmaker[AsyncSession], password: str
) -> None:
    hashed = await auth.hash_password_async(password)
    async with factory() as session, session.begin():
        found = await session.scalar(select(DemoUser).where(DemoUser.email == DEMO_EMAIL))
        if found is None:
            session.add(DemoUser(email=DEMO_EMAIL, hashed_password=hashed))
        else:
            found.hashed_password = hashed
            found.is_active = True


async def _create_tables(auth: AuthManager[DemoUser], engine: AsyncEngine) -> None:
    await auth.create_tables(engine)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


def create_app(
    db_url: str = "sqlite+aiosqlite:///./authmanager-demo.db",
    *,
    password: str | None = None,
    settings: AuthSettings | None = None,
) -> FastAPI:
    """Build the demo API on *db_url*.

    At start-up (the app's lifespan) it creates the tables and the user
    `demo@example.com` with *password* (random when None; read it from
    `app.state.demo_password`).

    Args:
        db_url: An async SQLAlchemy URL, e.g. `sqlite+aiosqlite:///./demo.db`.
        password: The demo user's password.
        settings: The settings; default `demo_settings()`.
    """
    engine = create_async_engine(db_url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    auth: AuthManager[DemoUser] = AuthManager(
        settings=settings or demo_settings(),
        session_factory=factory,
        user_loader=DemoUsers(DemoUser, login_field="email"),
    )
    demo_password = password or secrets.token_urlsafe(12)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await _create_tables(auth, engine)
        await _ensure_demo_user(auth, factory, demo_password)
        yield
        await auth.drain_events()
        await engine.dispose()

    app = FastAPI(
        title="authmanager demo",
        description=(
            f"Log in with **{DEMO_EMAIL}** through the Authorize button, then call `/me`."
        ),
        lifespan=lifespan,
    )
    app.state.auth = auth
    app.state.demo_password = demo_password
    install_exception_handlers(app)
    app.include_router(auth.router, prefix=auth.settings.route_prefix)

    @app.get("/me", summary="The logged-in user")
    async def me(user: DemoUser = Depends(auth.current_user)) -> dict[str, Any]:
        return {"id": user.id, "email": user.email}

    html = files("authmanager.demo").joinpath("page.html").read_text(encoding="utf-8")
    html = html.replace("{{PREFIX}}", auth.settings.route_prefix)
    html = html.replace("{{PROVIDERS}}", provider_buttons(auth.settings))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return html

    return app
