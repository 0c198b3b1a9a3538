"""Custom claims from the user loader, and a validator that checks them."""

import os
from typing import Any

from app_models import User
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader, TokenPayload

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)


# --8<-- [start:loader]
class Users(SQLAlchemyUserLoader[User]):
    """Adds the user's role to the tokens of every password login."""

    def token_claims(self, user: User) -> dict[str, Any]:
        return {"role": user.role, "tenant": "acme"}


auth = AuthManager(settings=AuthSettings(), session_factory=sessions, user_loader=Users(User))
# --8<-- [end:loader]
app = FastAPI()
app.include_router(auth.router, prefix="/auth")


# --8<-- [start:validator]
def is_admin(payload: TokenPayload) -> bool:
    return payload.get("role") == "admin"


admin_only = auth.token_validator(is_admin)  # 403 unless is_admin(payload) is true


@app.get("/whoami")
async def whoami(payload: TokenPayload = Depends(auth.token_data)) -> dict[str, str]:
    return {"sub": payload.sub, "role": payload["role"], "tenant": payload["tenant"]}


@app.get("/admin/report")
async def report(payload: TokenPayload = Depends(admin_only)) -> dict[str, str]:
    return {"report": "ok", "for": payload.sub}


# --8<-- [end:validator]
