"""Listing and ending sessions from Python: an administrator's view of a user."""

import os

from app_models import User
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
)
app = FastAPI()
app.include_router(auth.router, prefix="/auth")  # GET /auth/sessions, DELETE /auth/sessions/{id}


# --8<-- [start:python]
async def describe_sessions(user_id: str) -> list[str]:
    """One line per active session of the user, newest first."""
    return [
        f"{s.id}: {s.user_agent or '?'} from {s.ip_address or '?'}, "
        f"last used {s.last_used_at:%Y-%m-%d %H:%M}, ends {s.expires_at:%Y-%m-%d}"
        for s in await auth.list_sessions(user_id)
    ]


async def end_oldest_session(user_id: str) -> bool:
    """End the user's oldest session; False when they have none."""
    found = await auth.list_sessions(user_id)
    return bool(found) and await auth.revoke_session(user_id, found[-1].id)


# --8<-- [end:python]
