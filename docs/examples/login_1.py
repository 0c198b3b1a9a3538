"""Login and protected routes: `current_user`, `optional_user` and `token_data`."""

import os
from contextlib import asynccontextmanager

from app_models import Base, User
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader, TokenPayload

# --8<-- [start:setup]
engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await auth.create_tables()
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)
app.include_router(auth.router, prefix="/auth")  # /auth/login, /auth/refresh, ...
# --8<-- [end:setup]


# --8<-- [start:routes]
@app.get("/me")
async def me(user: User = Depends(auth.current_user)) -> dict[str, str | int]:
    """401 without a valid access token."""
    return {"id": user.id, "email": user.email}


@app.get("/hello")
async def hello(user: User | None = Depends(auth.optional_user)) -> dict[str, str]:
    """Anonymous callers get None; a bad token is still a 401."""
    return {"hello": user.email if user else "stranger"}


@app.get("/token")
async def token(payload: TokenPayload = Depends(auth.token_data)) -> dict[str, str]:
    """The verified claims, without loading the user."""
    return {"sub": payload.sub, "session": payload.sid, "expires": payload.exp.isoformat()}


# --8<-- [end:routes]
