"""Sign-in links: passwordless login by email, and telling how a session began."""

import os

from app_models import User
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader, TokenPayload
from authmanager.accounts import ConsoleSender

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(
        login_link_url="https://app.example/login-link#token={token}",
        login_link_expire_minutes=15,
    ),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    sender=ConsoleSender(),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # /auth/login-link, /auth/login-link/confirm


# --8<-- [start:amr]
@app.get("/signed-in-with")
async def signed_in_with(payload: TokenPayload = Depends(auth.token_data)) -> dict[str, list[str]]:
    """RFC 8176 `amr`: ["pwd"] after /auth/login, ["email"] after a sign-in link."""
    return {"amr": payload.get("amr") or []}


@app.post("/billing")
async def billing(payload: TokenPayload = Depends(auth.token_data)) -> dict[str, str]:
    """A route that wants the password itself, not only the mailbox."""
    if "pwd" not in (payload.get("amr") or []):
        raise HTTPException(403, "Log in with your password for this.")
    return {"detail": "ok"}


# --8<-- [end:amr]
