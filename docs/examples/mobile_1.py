"""Mobile clients: refresh tokens in the body, and device claims in the tokens."""

import os
from typing import Any

from app_models import User
from fastapi import FastAPI, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import (
    AuthManager,
    AuthSettings,
    ClientInfo,
    SQLAlchemyUserLoader,
    install_exception_handlers,
)

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:settings]
auth = AuthManager(
    settings=AuthSettings(refresh_token_transport="body"),  # no cookies: a native app
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")
# --8<-- [end:settings]


# --8<-- [start:device]
class DeviceLogin(BaseModel):
    username: str
    password: str
    device_id: str
    platform: str


install_exception_handlers(app)  # AuthErrors raised below become 401/429/503 answers


@app.post("/mobile/login")
async def mobile_login(body: DeviceLogin, request: Request) -> dict[str, Any]:
    client = ClientInfo(
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        device_id=body.device_id,
    )
    user = await auth.authenticate(body.username, body.password, client=client)
    pair = await auth.create_token_pair(
        {"sub": str(user.id), "device_id": body.device_id, "platform": body.platform},
        client=client,
        fresh=True,
    )
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
    }


# --8<-- [end:device]
