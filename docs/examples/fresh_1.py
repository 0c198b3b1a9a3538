"""Fresh logins: a sensitive route that needs a recent password (`auth.fresh_user`)."""

import os
from typing import Any

from app_models import User
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:app]
auth = AuthManager(
    settings=AuthSettings(fresh_token_minutes=10),  # a password login stays fresh 10 minutes
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # includes POST /auth/fresh


@app.get("/profile")
async def profile(user: User = Depends(auth.current_user)) -> dict[str, Any]:
    return {"email": user.email}  # any valid token, refreshed ones included


@app.post("/account/delete")
async def delete_account(user: User = Depends(auth.fresh_user)) -> dict[str, Any]:
    return {"deleted": user.id}  # only a token from a recent password entry


# --8<-- [end:app]
