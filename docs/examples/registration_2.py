"""Registration from Python: an invitation script or a route of your own."""

import os

from app_models import User
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader
from authmanager.accounts import ConsoleSender, LoginTakenError, PasswordPolicyError

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = AuthManager(
    settings=AuthSettings(password_min_length=12),
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    sender=ConsoleSender(),
)


# --8<-- [start:register]
async def create_account(email: str, password: str) -> str:
    """Create an account; return its id, or say why not."""
    try:
        user = await auth.register(email, password)
    except LoginTakenError:
        return "taken"
    except PasswordPolicyError as exc:  # a ValueError; exc.rule is "min_length", ...
        return f"refused: {exc.rule}"
    return str(user.id)


# --8<-- [end:register]
