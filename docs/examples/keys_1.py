"""Asymmetric keys and key rotation: sign with the new key, still verify with the old."""

import os

from app_models import User
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)


# --8<-- [start:generate]
def new_es256_key() -> str:
    """A P-256 private key as PEM (store it as a secret, e.g. /run/secrets/jwt_key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# --8<-- [end:generate]


# --8<-- [start:rotate]
def rotated_settings(new_key_pem: str, old_key_pem: str) -> AuthSettings:
    """Sign with the new key; tokens signed by the old one verify until they expire."""
    return AuthSettings(
        algorithm="ES256",
        private_key=new_key_pem,  # or private_key_file=...
        previous_keys=[old_key_pem],  # verify only; drop it after refresh_token_expire_days
        audience="api.example.com",
        issuer="https://auth.example.com",
    )


# --8<-- [end:rotate]


def manager(settings: AuthSettings) -> AuthManager[User]:
    return AuthManager(
        settings=settings,
        session_factory=sessions,
        user_loader=SQLAlchemyUserLoader(User, login_field="email"),
    )
