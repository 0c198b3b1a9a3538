"""Sign-in with providers: a user model without a required password, the loader's policy."""

import os
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader
from authmanager.identities import ExternalIdentity

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


# --8<-- [start:model]
class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str | None] = mapped_column(String(255))  # None: provider only
    is_active: Mapped[bool] = mapped_column(default=True)
    is_verified: Mapped[bool] = mapped_column(default=False)  # the email, verified by us


# --8<-- [end:model]


# --8<-- [start:loader]
class Members(SQLAlchemyUserLoader[Member]):
    async def get_user_for_identity(
        self, session: AsyncSession, identity: ExternalIdentity
    ) -> Member | None:
        """Asked once per identity, on its first sign-in; None refuses it."""
        if identity.email is None:
            return None  # this application needs an email address
        existing = await self.get_user_by_login(session, identity.email)
        if existing is not None:
            # authmanager links the two only if the provider AND the account say the
            # email is verified; otherwise this sign-in is refused (403).
            return existing
        member = Member(
            email=identity.email, hashed_password=None, is_verified=identity.email_verified
        )
        session.add(member)
        await session.flush()  # the id; authmanager commits with the link and the session
        return member


# --8<-- [end:loader]


# --8<-- [start:app]
# AUTH_OIDC_PROVIDERS and AUTH_OIDC_REDIRECT_BASE_URL come from the environment.
auth = AuthManager(
    settings=AuthSettings(),
    session_factory=sessions,
    user_loader=Members(Member, login_field="email"),
)
app = FastAPI()
auth.install(app)  # the router at /auth (route_prefix), error handlers, lifespan


@app.get("/", response_class=HTMLResponse)
async def sign_in_page() -> str:
    links = "".join(
        f'<p><a href="/auth/oidc/{name}/authorize?next=/account">Sign in with {name}</a></p>'
        for name in auth.settings.oidc_providers
    )
    return f"<!doctype html><title>Sign in</title>{links}"


@app.get("/me")
async def me(member: Member = Depends(auth.current_user)) -> dict[str, Any]:
    return {"id": member.id, "email": member.email}


# --8<-- [end:app]
