"""Registration with verified addresses: /auth/register, /auth/verify-email, ConsoleSender."""

import os
from contextlib import asynccontextmanager

from app_models import Base, User
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader
from authmanager.accounts import ConsoleSender

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:setup]
auth = AuthManager(
    settings=AuthSettings(
        require_verified_email=True,  # /login answers 403 until the address is verified
        verify_email_url="https://app.example/verify-email#token={token}",
    ),
    session_factory=sessions,
    # create_user (the model has hashed_password) and set_verified (it has is_verified)
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    sender=ConsoleSender(),  # prints each message; use SMTPSender in production
)
# --8<-- [end:setup]


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await auth.create_tables()  # the token tables, action tokens included
    yield
    await auth.aclose()  # sends what is still queued
    await engine.dispose()


app = FastAPI(lifespan=lifespan)
app.include_router(auth.router, prefix="/auth")  # /auth/register, /auth/verify-email, ...
