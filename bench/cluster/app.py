"""The cluster's bench application: many users, `/me`, a password change, worker pids.

`uvicorn --factory bench.cluster.app:create` on `CLUSTER_DB_URL` (PostgreSQL). The
library's settings come from the environment (`JWT_SECRET_KEY` shared by every host,
`AUTH_RATE_LIMIT_STORAGE_URL`, `AUTH_STATE_CACHE`, ...). `CLUSTER_POOL_PRE_PING=1`
turns on SQLAlchemy's pre-ping; `CLUSTER_POOL_SIZE` sets the pool;
`CLUSTER_DB_TIMEOUT=<s>` sets asyncpg's connect and command timeouts.

`python -m bench.cluster.app init --users N` creates the tables and the users
`user<i>@bench` with password `PASSWORD`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form
from sqlalchemy import Boolean, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authmanager import (
    AuthManager,
    AuthSettings,
    SQLAlchemyUserLoader,
    TokenPayload,
    install_exception_handlers,
)
from authmanager import metadata as auth_metadata

PASSWORD = "cluster bench password"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "cluster_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


def make_engine(url: str) -> AsyncEngine:
    """The application's engine, as the environment describes it."""
    size = int(os.environ.get("CLUSTER_POOL_SIZE", "5"))
    timeout = float(os.environ.get("CLUSTER_DB_TIMEOUT", "0"))
    # asyncpg: `timeout` bounds connecting, `command_timeout` every statement.
    connect_args = {"timeout": timeout, "command_timeout": timeout} if timeout else {}
    return create_async_engine(
        url,
        pool_size=size,
        max_overflow=size,
        pool_pre_ping=os.environ.get("CLUSTER_POOL_PRE_PING", "0") == "1",
        connect_args=connect_args,
    )


def _accept_with_nodelay() -> None:
    """Set TCP_NODELAY on accepted connections whatever the listening socket's `proto`.

    `uvicorn --workers N` binds `socket.socket(AF_INET, SOCK_STREAM)`, whose `proto` is 0;
    asyncio (3.11) sets TCP_NODELAY only when `proto == IPPROTO_TCP`, so every worker's
    connections keep Nagle's algorithm: a response written in two parts (head, body)
    waits for the client's delayed ACK, about 40 ms per request on a kept-alive
    connection. The harness measures both (`CLUSTER_TCP_NODELAY=0|1`).
    """
    import asyncio.base_events
    import socket

    def set_nodelay(sock: socket.socket) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    asyncio.base_events._set_nodelay = set_nodelay  # type: ignore[attr-defined]


def create() -> FastAPI:
    """The app one uvicorn worker serves."""
    if os.environ.get("CLUSTER_TCP_NODELAY", "1") == "1":
        _accept_with_nodelay()
    engine = make_engine(os.environ["CLUSTER_DB_URL"])
    auth: AuthManager[User] = AuthManager(
        settings=AuthSettings(),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await auth.drain_events()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    install_exception_handlers(app)
    app.include_router(auth.router, prefix="/auth")
    pid = os.getpid()

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, Any]:
        return {"id": user.id, "pid": pid}

    @app.post("/password")
    async def password(
        new_password: Annotated[str, Form(min_length=1)],
        payload: TokenPayload = Depends(auth.token_data),
        user: User = Depends(auth.current_user),
    ) -> dict[str, Any]:
        revoked = await auth.change_password(user, new_password, keep_session_id=payload.sid)
        return {"revoked": revoked}

    @app.get("/pid")
    async def worker() -> dict[str, int]:
        return {"pid": pid}

    @app.get("/_bench/objects")
    async def objects() -> dict[str, Any]:
        """Live Python objects by type and the allocator's view (for the soak's memory)."""
        import gc
        import sys
        from collections import Counter

        counts = Counter(type(o).__qualname__ for o in gc.get_objects())
        return {
            "pid": pid,
            "objects": dict(counts.most_common(60)),
            "total": sum(counts.values()),
            "blocks": sys.getallocatedblocks(),
            "tasks": len(asyncio.all_tasks()),
        }

    return app


async def init(url: str, users: int) -> None:
    """Create the tables and *users* users (idempotent)."""
    engine = create_async_engine(url)
    auth: AuthManager[User] = AuthManager(
        settings=AuthSettings(),
        session_factory=async_sessionmaker(engine),
        user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    )
    hashed = await auth.hash_password_async(PASSWORD)
    async with engine.begin() as conn:
        await conn.run_sync(auth_metadata.create_all)
        await conn.run_sync(Base.metadata.create_all)
        have = await conn.scalar(select(func.count()).select_from(User))
        rows = [
            {"email": f"user{i}@bench", "hashed_password": hashed, "is_active": True}
            for i in range(int(have or 0), users)
        ]
        if rows:
            await conn.execute(User.__table__.insert(), rows)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster.app")
    parser.add_argument("command", choices=["init"])
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(init(os.environ["CLUSTER_DB_URL"], args.users))


if __name__ == "__main__":
    main()
