"""Logout and logout everywhere, as dependencies of your own routes and from Python."""

import os
from typing import Any

from app_models import User
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # has /auth/logout and /auth/logout-all


# --8<-- [start:routes]
@app.post("/account/sign-out")
async def sign_out(result: dict[str, Any] = Depends(auth.logout)) -> dict[str, Any]:
    """End this session: its access and refresh tokens stop working, the cookie is cleared."""
    return result


@app.post("/account/sign-out-everywhere")
async def sign_out_everywhere(result: dict[str, Any] = Depends(auth.logout_all)) -> dict[str, Any]:
    """End every session of the user, on every device."""
    return result


# --8<-- [end:routes]


# --8<-- [start:python]
async def lock_account(user_id: str) -> int:
    """An administrator's action: end every session of a user at once."""
    return await auth.revoke_all_user_tokens(user_id)


# --8<-- [end:python]
