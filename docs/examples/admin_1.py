"""Administrators: a session cap, impersonation with `act`, and deactivating users."""

import os
from typing import Any

from app_models import User
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader, TokenPayload

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(max_sessions_per_user=5),  # or AUTH_MAX_SESSIONS_PER_USER=5
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")


# --8<-- [start:admin]
async def require_admin(user: User = Depends(auth.fresh_user)) -> User:
    """Who may act as an administrator is the application's rule (here: a role)."""
    if user.role != "admin":
        raise HTTPException(status_code=403, detail="Administrators only.")
    return user


class Why(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@app.post("/admin/users/{user_id}/impersonate")
async def impersonate(user_id: int, body: Why, admin: User = Depends(require_admin)) -> Any:
    try:
        token = await auth.impersonate(str(admin.id), str(user_id), reason=body.reason)
    except ValueError as exc:  # unknown or inactive user, or the admin themselves
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return {"access_token": token, "token_type": "bearer"}


@app.post("/admin/users/{user_id}/deactivate")
async def deactivate(user_id: int, admin: User = Depends(require_admin)) -> Any:
    async with sessions.begin() as db:  # the flag and the revocations commit together
        user = await db.get(User, user_id)
        if user is None:
            raise HTTPException(status_code=404, detail="No such user.")
        user.is_active = False
        revoked = await auth.deactivate_user(str(user_id), session=db)
    return {"revoked": revoked}


@app.get("/whoami")
async def whoami(payload: TokenPayload = Depends(auth.token_data)) -> Any:
    """`act` names the administrator when one is acting as the user (RFC 8693)."""
    actor = payload.get("act")
    return {"user": payload.sub, "acting": actor["sub"] if actor else None}


# --8<-- [end:admin]
