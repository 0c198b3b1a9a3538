"""Passkeys (WebAuthn): sign in without a password, or use one as the second factor."""

import os

from app_models import User
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:settings]
auth = AuthManager(
    settings=AuthSettings(
        webauthn_rp_id="example.com",  # the site's domain: passkeys are bound to it
        webauthn_rp_name="Example",  # shown by the authenticator when a passkey is made
        webauthn_origins=["https://example.com", "https://app.example.com"],
    ),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # /auth/passkeys/..., /auth/mfa/...
# --8<-- [end:settings]
