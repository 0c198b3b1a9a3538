"""The benchmark application: one user table, a manager, and its routes.

`/bare` has no authentication, `/stateless` only decodes the JWT with PyJWT (the
floor every stateless library pays), `/stateless-user` decodes and loads the user row
(`session.get`, the floor of a stateless `current_user`), `/token` uses
`auth.token_data` and `/user` uses `auth.current_user`. `POST /stateless-refresh` is a
refresh that does not rotate (decode the refresh JWT, load the user, sign a new access
token), the floor `POST /auth/refresh` (rotation and reuse detection) is compared to.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import jwt
from fastapi import Body, Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-for-authmanager-benchmarks-only-0123456789abcdef0123"
PASSWORD = "correct horse battery staple"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "bench_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


def make_engine(url: str) -> AsyncEngine:
    """An engine as an application would configure it."""
    if url.startswith("postgresql"):
        return create_async_engine(url, pool_size=10, max_overflow=10)
    return create_async_engine(url)


def make_manager(engine: AsyncEngine, **overrides: Any) -> AuthManager[User]:
    """A manager with production defaults (bcrypt cost 12 unless overridden)."""
    values: dict[str, Any] = {
        "secret_key": SECRET,
        "login_rate_limit": "100000/minute",
        "login_account_rate_limit": "100000/minute",
        "login_ip_rate_limit": "100000/minute",
        "refresh_rate_limit": "100000/minute",
    }
    values.update(overrides)
    return AuthManager(
        settings=AuthSettings(**values),
        session_factory=async_sessionmaker(engine, expire_on_commit=False),
        user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    )


def make_app(auth: AuthManager[User]) -> FastAPI:
    """The four routes every workload measures."""
    app = FastAPI()
    app.include_router(auth.router, prefix="/auth")
    bearer = HTTPBearer()
    audience = auth._codec.default_audience
    secret = SECRET.encode()
    factory = auth.session_factory

    async def stateless(creds: HTTPAuthorizationCredentials = Depends(bearer)) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                creds.credentials, secret, algorithms=["HS256"], audience=audience
            )
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid token") from None
        return claims

    @app.get("/bare")
    async def bare() -> dict[str, Any]:
        return {"sub": "1"}

    @app.get("/stateless")
    async def stateless_route(claims: dict[str, Any] = Depends(stateless)) -> dict[str, Any]:
        return {"sub": claims["sub"]}

    @app.get("/stateless-user")
    async def stateless_user(claims: dict[str, Any] = Depends(stateless)) -> dict[str, Any]:
        async with factory() as db:
            user = await db.get(User, int(claims["sub"]))
        if user is None or not user.is_active:
            raise HTTPException(401, "no such user")
        return {"sub": str(user.id)}

    @app.post("/stateless-refresh")
    async def stateless_refresh(refresh_token: str = Body(embed=True)) -> dict[str, Any]:
        try:
            claims = jwt.decode(refresh_token, secret, algorithms=["HS256"], audience=audience)
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid token") from None
        async with factory() as db:
            user = await db.get(User, int(claims["sub"]))
        if user is None or not user.is_active:
            raise HTTPException(401, "no such user")
        now = int(time.time())
        access = jwt.encode(
            {"sub": claims["sub"], "aud": audience, "iat": now, "exp": now + 1800},
            secret,
            algorithm="HS256",
        )
        return {"access_token": access, "token_type": "bearer", "expires_in": 1800}

    @app.get("/token")
    async def token_route(payload: Any = Depends(auth.token_data)) -> dict[str, Any]:
        return {"sub": payload.sub}

    @app.get("/user")
    async def user_route(user: User = Depends(auth.current_user)) -> dict[str, Any]:
        return {"sub": str(user.id)}

    return app


def server_app() -> FastAPI:
    """The app uvicorn serves in workload 2 (`--factory`), on `BENCH_DB_URL`."""
    for name in list(os.environ):
        if name.startswith(("JWT_", "AUTH_")) and name != "AUTH_BENCH":
            del os.environ[name]
    return make_app(make_manager(make_engine(os.environ["BENCH_DB_URL"])))
