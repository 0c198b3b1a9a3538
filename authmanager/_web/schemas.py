"""Request and response models of the router (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorBody",
    "HealthBody",
    "JWKSBody",
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


class JWKSBody(BaseModel):
    """An RFC 7517 JWK Set."""

    keys: list[dict[str, str]]


class HealthBody(BaseModel):
    """Answer of `/health`."""

    status: Literal["ok", "unavailable"]
    detail: str | None = None
