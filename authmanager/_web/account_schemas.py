"""Request and response models of the account routes (they shape the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from authmanager._web.schemas import ErrorBody

__all__ = [
    "AcceptedBody",
    "CreatedBody",
    "LoginBody",
    "NewLoginBody",
    "PolicyErrorBody",
    "RegisterBody",
    "ResetBody",
    "TokenInBody",
]

#: At most this many extra fields in a registration (the loader decides which).
MAX_FIELDS = 32
_LOGIN = Field(min_length=1, max_length=320)
# Long enough for any policy's maximum (`max_password_bytes`), which the policy enforces.
_PASSWORD = Field(min_length=1, max_length=4096)
# An action token is 43 characters; the service refuses anything not shaped like one.
_TOKEN = Field(min_length=1, max_length=256)


class RegisterBody(BaseModel):
    """`/register`: the login, the password, and the application's extra fields."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"additionalProperties": True},
    )

    login: str = _LOGIN
    password: str = _PASSWORD

    @model_validator(mode="after")
    def _few_fields(self) -> RegisterBody:
        if len(self.model_extra or {}) > MAX_FIELDS:
            raise ValueError(f"At most {MAX_FIELDS} extra fields are accepted.")
        return self

    def fields(self) -> dict[str, Any]:
        """The extra fields, for the loader's `create_user`."""
        return dict(self.model_extra or {})


class LoginBody(BaseModel):
    """`/password/forgot` and `/login-link`: the login of the account."""

    model_config = ConfigDict(extra="forbid")

    login: str = _LOGIN


class NewLoginBody(BaseModel):
    """`/email/change`: the address to move the account to."""

    model_config = ConfigDict(extra="forbid")

    new_login: str = _LOGIN


class TokenInBody(BaseModel):
    """The confirm routes: the token from the link (read from its URL fragment)."""

    model_config = ConfigDict(extra="forbid")

    token: str = _TOKEN


class ResetBody(BaseModel):
    """`/password/reset`: the token from the link and the new password."""

    model_config = ConfigDict(extra="forbid")

    token: str = _TOKEN
    password: str = _PASSWORD


class AcceptedBody(BaseModel):
    """A request taken: the same body whatever the outcome (202)."""

    detail: str


class CreatedBody(BaseModel):
    """`/register` without verification: the new user's id (201)."""

    id: str


class PolicyErrorBody(ErrorBody):
    """422 for a password the policy refuses: `rule` names the rule broken."""

    rule: str | None = Field(
        default=None, description="`min_length`, `max_bytes` or `encoding` (weak passwords)."
    )
