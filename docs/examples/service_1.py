"""Service-to-service tokens: one service mints, another (another audience) accepts."""

import os
from datetime import timedelta

from app_models import User
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader, TokenPayload

# Both services share the signing key (or use JWKS, see the key rotation guide) and the
# token store, so revocation reaches both.
engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
users = SQLAlchemyUserLoader(User, login_field="email")

# --8<-- [start:managers]
ISSUER = "https://auth.example.com"
accounts = AuthManager(
    settings=AuthSettings(audience="accounts-api", issuer=ISSUER),
    session_factory=sessions,
    user_loader=users,
)
billing = AuthManager(
    settings=AuthSettings(audience="billing-api", issuer=ISSUER),
    session_factory=sessions,
    user_loader=users,
)
# --8<-- [end:managers]


# --8<-- [start:mint]
async def mint_reports_token() -> str:
    """A short-lived token for the reports job to call the billing API."""
    return await accounts.create_access_token(
        {"sub": "service:reports", "scopes": ["invoices:read"]},
        audience="billing-api",
        expires_in=timedelta(minutes=5),
    )


# --8<-- [end:mint]


# --8<-- [start:billing]
billing_app = FastAPI()
read_invoices = billing.require_scopes("invoices:read")


@billing_app.get("/invoices")
async def invoices(
    payload: TokenPayload = Depends(read_invoices),
) -> dict[str, str]:
    return {"caller": payload.sub, "audience": str(payload.aud)}


# --8<-- [end:billing]
