"""Request and response bodies of the sign-in with providers and identity routes."""

# No `from __future__ import annotations` here: pydantic and FastAPI read these at runtime.

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from authmanager.identities.types import MAX_ID_TOKEN_BYTES

__all__ = ["IdTokenExchangeBody", "IdentityBody", "LinkStartBody"]


class IdTokenExchangeBody(BaseModel):
    """`POST /oidc/{provider}/token`: an ID token from a platform sign-in SDK."""

    model_config = ConfigDict(extra="forbid")

    id_token: str = Field(min_length=1, max_length=MAX_ID_TOKEN_BYTES)
    nonce: str = Field(
        min_length=1,
        max_length=255,
        description="The nonce the app gave the SDK; each nonce is exchanged once.",
    )


class LinkStartBody(BaseModel):
    """The answer of `POST /oidc/{provider}/link`: where to send the browser next."""

    authorization_url: str = Field(
        description="The provider's authorization URL; navigate the browser to it."
    )


class IdentityBody(BaseModel):
    """One identity linked to the user (`GET /identities`)."""

    id: str
    provider: str
    issuer: str
    subject: str
    email: str | None
    created_at: datetime
    last_used_at: datetime
