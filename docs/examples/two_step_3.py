"""A login route of your own that asks for the second factor, as `/auth/login` does."""

import os
from typing import Any

from app_models import User
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader, install_exception_handlers
from authmanager.mfa import MfaRequiredError

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(refresh_token_transport="body"),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # the second step: /auth/mfa/verify
install_exception_handlers(app)  # MfaRequiredError becomes the 403 mfa_required answer


class Login(BaseModel):
    email: str
    password: str


# --8<-- [start:route]
@app.post("/api/login")
async def login(body: Login) -> dict[str, Any]:
    user = await auth.authenticate(body.email, body.password)
    challenge = await auth.create_mfa_challenge(user)
    if challenge is not None:  # the user has a factor: no tokens yet
        raise MfaRequiredError(challenge)  # 403 {"error": "mfa_required", "mfa_token", ...}
    pair = await auth.create_token_pair({"sub": str(user.id)}, fresh=True, amr=["pwd"])
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token}


# --8<-- [end:route]
