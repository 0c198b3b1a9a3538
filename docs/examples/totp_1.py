"""TOTP: authenticator apps as a second factor, and a route that needs two factors."""

import os
from typing import Any

from app_models import User
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import (
    AuthManager,
    AuthSettings,
    SQLAlchemyUserLoader,
    TokenPayload,
    install_exception_handlers,
)

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:app]
# In the environment (a new key: python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"):
#   AUTH_MFA_TOTP_ENABLED=true
#   AUTH_MFA_ENCRYPTION_KEYS=<that key>
auth = AuthManager(
    settings=AuthSettings(),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # /auth/factors/totp, /auth/mfa/verify, ...
install_exception_handlers(app)  # the 403 below in the library's error shape


@app.get("/billing")
async def billing(payload: TokenPayload = Depends(auth.require_mfa)) -> dict[str, Any]:
    return {"signed_in_with": payload.amr}  # e.g. ["pwd", "otp", "mfa"]


# --8<-- [end:app]
