"""Request and response models of the router (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKeyBody",
    "ApiKeyRequest",
    "ErrorBody",
    "HealthBody",
    "JWKSBody",
    "NewApiKeyBody",
    "RefreshBody",
    "RevokedBody",
    "SessionBody",
    "TokenBody",
]


class TokenBody(BaseModel):
    """RFC 6749 §5.1 access token response."""

    access_token: str
    token_type: Literal["bearer", "DPoP"] = Field(
        default="bearer", description='"DPoP" when the tokens are bound to a DPoP key.'
    )
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str | None = Field(
        default=None, description="Present when the body refresh transport is on."
    )
    refresh_expires_in: int | None = Field(
        default=None, description="Seconds until the refresh token expires (body transport)."
    )
    scope: str | None = Field(
        default=None,
        description=(
            "The scopes granted, space-separated, when the login asked for some "
            "(RFC 6749 §3.3); absent otherwise."
        ),
    )


class RefreshBody(BaseModel):
    """JSON body of `/refresh` for clients that keep the refresh token themselves."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=16384)


class ValidationIssue(BaseModel):
    """One invalid field of a 422 answer (the input itself is never echoed)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """An error answer: `detail` for people, `error` (RFC 6749 §5.2 / RFC 6750) for clients.

    On 422, `detail` lists the invalid fields instead of one sentence.
    """

    detail: str | list[ValidationIssue]
    error: str | None = Field(default=None, description="RFC 6749 §5.2 / RFC 6750 error code.")
    error_description: str | None = Field(
        default=None, description="One sentence on what failed (RFC 6749 §5.2), ASCII."
    )
    reason: str | None = Field(default=None, description="authmanager's stable reason code.")


class DetailBody(BaseModel):
    """A plain confirmation."""

    detail: str


class RevokedBody(BaseModel):
    """Answer of `/logout-all` and `/sessions/revoke-others`."""

    detail: str
    revoked: int = Field(description="Count of tokens revoked.")


class SessionBody(BaseModel):
    """One active login session of the caller."""

    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    current: bool = Field(description="True for the session of the calling token.")
    impersonated_by: str | None = Field(
        default=None,
        description="The administrator acting as the user in this session, else null.",
    )


class JWKSBody(BaseModel):
    """An RFC 7517 JWK Set."""

    keys: list[dict[str, str]]


class ApiKeyRequest(BaseModel):
    """JSON body of `POST /api-keys`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="A name to tell the key apart.")
    scopes: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Scopes the key grants; each must be one the calling token holds.",
    )
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Days until the key stops working; default and longest: the server's cap.",
    )


class ApiKeyBody(BaseModel):
    """One API key of the caller (never the key itself)."""

    id: str
    name: str
    prefix: str = Field(description="The key's visible first characters.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To within about a minute.")


class NewApiKeyBody(BaseModel):
    """A key just created: `key` is shown this once and cannot be read again."""

    id: str
    key: str = Field(description="The secret: store it now; only its hash is kept.")
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None


class HealthBody(BaseModel):
    """Answer of `/health`."""

    status: Literal["ok", "unavailable"]
    detail: str | None = None
