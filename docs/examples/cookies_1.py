"""Refresh tokens in HttpOnly cookies, for a browser front end on another origin."""

import os

from app_models import User
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:settings]
settings = AuthSettings(
    refresh_token_transport="cookie",  # the default: never in the body, never in JS
    cookie_samesite="strict",  # the default
    cookie_secure=True,  # the default; False only for plain-http development
    csrf_protection=True,  # the default: Origin / Sec-Fetch-Site + double-submit token
    allowed_origins=["https://app.example.com"],  # your front end, if not same-origin
)
# --8<-- [end:settings]

auth = AuthManager(
    settings=settings,
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")
