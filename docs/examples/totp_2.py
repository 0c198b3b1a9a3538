"""Rotating the key that encrypts TOTP secrets, without disabling anyone's app."""

import os

from app_models import User
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)


# --8<-- [start:rotate]
async def rotate_totp_key(new_key: str, old_key: str) -> int:
    """Step 2 of 3: re-encrypt every secret under *new_key*; return how many were.

    1. Deploy with AUTH_MFA_ENCRYPTION_KEYS="<new>,<old>": the first key encrypts, every
       key decrypts, so nothing breaks while secrets are still under the old key.
    2. Run this once (a script or a management command).
    3. Deploy with AUTH_MFA_ENCRYPTION_KEYS="<new>" and destroy the old key.
    """
    auth = AuthManager(
        settings=AuthSettings(mfa_totp_enabled=True, mfa_encryption_keys=[new_key, old_key]),
        session_factory=sessions,
        user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    )
    return await auth.reencrypt_totp_secrets()


# --8<-- [end:rotate]
