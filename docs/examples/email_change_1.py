"""Email change: a fresh login, a link to the new address, a notice to the old one."""

import os

from app_models import User
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader
from authmanager.accounts import ConsoleSender

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    # --8<-- [start:settings]
    settings=AuthSettings(
        change_email_url="https://app.example/confirm-email#token={token}",
        change_email_expire_minutes=60,
        fresh_token_minutes=15,  # /auth/email/change needs a password login this recent
    ),
    # --8<-- [end:settings]
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),  # has set_login
    sender=ConsoleSender(),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # /auth/email/change, /auth/email/confirm
