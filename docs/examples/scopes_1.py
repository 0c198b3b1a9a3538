"""Scopes: a `scopes` claim in the tokens and `require_scopes` on the routes."""

import os
from typing import Any

from app_models import User
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader, TokenPayload

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Users(SQLAlchemyUserLoader[User]):
    def token_claims(self, user: User) -> dict[str, Any]:
        scopes = ["orders:read"]
        if user.role == "admin":
            scopes.append("orders:write")
        return {"scopes": scopes}


auth = AuthManager(settings=AuthSettings(), session_factory=sessions, user_loader=Users(User))
app = FastAPI()
app.include_router(auth.router, prefix="/auth")


# --8<-- [start:routes]
read_orders = auth.require_scopes("orders:read")
write_orders = auth.require_scopes("orders:read", "orders:write")


@app.get("/orders")
async def list_orders(
    payload: TokenPayload = Depends(read_orders),
) -> list[dict[str, str]]:
    return [{"id": "o-1", "owner": payload.sub}]


@app.post("/orders", status_code=201)
async def create_order(
    payload: TokenPayload = Depends(write_orders),
) -> dict[str, str]:
    return {"id": "o-2", "owner": payload.sub}


# --8<-- [end:routes]
