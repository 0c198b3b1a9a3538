"""Password changes: a fresh login required, every other session ended."""

import os
from typing import Any

from app_models import User
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader, TokenPayload

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),  # has set_password_hash
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")


# --8<-- [start:route]
class NewPassword(BaseModel):
    new_password: str = Field(min_length=12, max_length=1024)


@app.post("/account/password")
async def change_password(
    body: NewPassword,
    user: User = Depends(auth.fresh_user),  # a password login of the last few minutes
    payload: TokenPayload = Depends(auth.token_data),
) -> dict[str, Any]:
    revoked = await auth.change_password(user, body.new_password, keep_session_id=payload.sid)
    return {"detail": "Password changed; your other sessions have ended.", "revoked": revoked}


# --8<-- [end:route]
