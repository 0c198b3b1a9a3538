"""Password reset: the link's page, its lifetime, the password policy."""

import os

from app_models import User
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader
from authmanager.accounts import ConsoleSender

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:settings]
settings = AuthSettings(
    reset_password_url="https://app.example/reset-password#token={token}",
    reset_password_expire_minutes=30,
    password_min_length=10,  # on registration, reset and change_password
    account_rate_limit="5/15 minutes",  # per client IP and, separately, per address
)
# --8<-- [end:settings]
auth = AuthManager(
    settings=settings,
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),  # has set_password_hash
    sender=ConsoleSender(),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # /auth/password/forgot, /auth/password/reset
