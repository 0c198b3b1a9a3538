"""Device binding: tokens tied to the device id sent at login, plus agent/network policies."""

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
    settings=AuthSettings(
        refresh_token_transport="body",
        user_agent_policy="report",  # a new User-Agent passes, with a device.mismatch event
        ip_network_policy="refuse",  # a request from another /24 (IPv4) or /64 (IPv6): 401
    ),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")


@app.get("/me")
async def me(user: User = Depends(auth.current_user)) -> dict[str, Any]:
    return {"email": user.email}


# --8<-- [end:app]
