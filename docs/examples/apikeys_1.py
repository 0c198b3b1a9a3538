"""API keys: a route for scripts (keys only), routes for people and scripts alike."""

import os
from typing import Any

from app_models import User
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import (
    AuthManager,
    AuthSettings,
    Principal,
    SQLAlchemyUserLoader,
    install_exception_handlers,
)

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Users(SQLAlchemyUserLoader[User]):
    def token_claims(self, user: User) -> dict[str, Any]:
        scopes = ["reports:read"]
        if user.role == "admin":
            scopes.append("reports:write")
        return {"scopes": scopes}


auth = AuthManager(
    settings=AuthSettings(), session_factory=sessions, user_loader=Users(User, login_field="email")
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # with GET, POST /auth/api-keys, DELETE ...
install_exception_handlers(app)


# --8<-- [start:routes]
@app.post("/ingest")
async def ingest(user: User = Depends(auth.api_key_user)) -> dict[str, Any]:
    """For scripts only: an access token is refused here (401)."""
    return {"accepted_for": user.id}


read_reports = auth.require_scopes("reports:read")  # memoised: the same object every time


@app.get("/reports")
async def reports(principal: Principal = Depends(read_reports)) -> dict[str, Any]:
    """A token's or a key's scopes: both hold `reports:read` here."""
    via = "api key" if principal.type == "api_key" else "access token"
    return {"owner": principal.sub, "via": via}


@app.get("/me")
async def me(user: User = Depends(auth.current_principal)) -> dict[str, Any]:
    """The user behind an access token or an API key."""
    return {"id": user.id, "email": user.email}


# --8<-- [end:routes]
