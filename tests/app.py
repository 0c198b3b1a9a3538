"""The application the tests drive: a user model, a loader, and an app factory."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authmanager import AuthManager, SQLAlchemyUserLoader, TokenPayload


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "test_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(String(32), default="user")
    # Optional columns for the account flows (tests/accounts); nothing else reads them.
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    display_name: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)


class Users(SQLAlchemyUserLoader[User]):
    """The test loader: puts the user's role in every login's tokens."""

    def __init__(self) -> None:
        super().__init__(User, login_field="email")

    def token_claims(self, user: User) -> dict[str, Any]:
        return {"role": user.role, "scopes": ["read"] + (["admin"] if user.role == "admin" else [])}


def make_app(auth: AuthManager[Any]) -> FastAPI:
    """Return an app with the router at /auth and a few protected routes."""
    app = FastAPI()
    app.include_router(auth.router, prefix="/auth")

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, Any]:
        return {"id": user.id, "email": user.email}

    @app.get("/maybe")
    async def maybe(user: User | None = Depends(auth.optional_user)) -> dict[str, Any]:
        return {"id": user.id if user else None}

    @app.get("/claims")
    async def claims(payload: TokenPayload = Depends(auth.token_data)) -> dict[str, Any]:
        return {
            "sub": payload.sub,
            "sid": payload.sid,
            "role": payload.get("role"),
            "scopes": payload.scopes,
        }

    admin_only = auth.require_scopes("admin")
    role_is_admin = auth.token_validator(lambda p: p.get("role") == "admin")

    @app.get("/admin")
    async def admin(
        payload: TokenPayload = Depends(admin_only),
    ) -> dict[str, str]:
        return {"sub": payload.sub}

    @app.get("/validated")
    async def validated(
        payload: TokenPayload = Depends(role_is_admin),
    ) -> dict[str, str]:
        return {"sub": payload.sub}

    @app.post("/change-email")
    async def change_email(user: User = Depends(auth.fresh_user)) -> dict[str, Any]:
        return {"id": user.id}

    @app.post("/bye")
    async def bye(result: dict[str, Any] = Depends(auth.logout)) -> dict[str, Any]:
        return result

    return app
