"""Delivering the account messages: SMTP in production, a callable of your own, or both."""

import logging
import os

from app_models import User
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader
from authmanager.accounts import AccountMessage, SMTPSender

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)

# --8<-- [start:smtp]
settings = AuthSettings()  # AUTH_SMTP_HOST, AUTH_SMTP_PORT, AUTH_SMTP_SECURITY=starttls, ...
smtp = SMTPSender(settings)  # needs the smtp extra: pip install 'authmanager[smtp]'
# --8<-- [end:smtp]

# --8<-- [start:custom]
audit = logging.getLogger("app.mail")


async def sender(message: AccountMessage) -> None:
    """Any callable taking one AccountMessage: here, SMTP plus a line in the app's log."""
    # Never log message.link or message.token: either one signs someone in.
    audit.info("mail %s to user %s", message.purpose, message.user_id)
    await smtp(message)  # an exception or a timeout: logged, and a message.failed event


auth = AuthManager(
    settings=settings,
    session_factory=sessions,
    user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    sender=sender,
)
# --8<-- [end:custom]
