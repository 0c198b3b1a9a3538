"""Verification as a gate for some routes only (AUTH_REQUIRE_VERIFIED_EMAIL off)."""

import os

from app_models import User
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader
from authmanager.accounts import ConsoleSender

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(verify_email_expire_minutes=60),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    sender=ConsoleSender(),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")


# --8<-- [start:gate]
async def verified_user(user: User = Depends(auth.current_user)) -> User:
    """The user, once their address is verified (POST /auth/verify-email/request sends a link)."""
    if not user.is_verified:
        raise HTTPException(403, "Verify your email address first.")
    return user


@app.post("/invitations")
async def invite(user: User = Depends(verified_user)) -> dict[str, str]:
    return {"from": user.email}


# --8<-- [end:gate]
