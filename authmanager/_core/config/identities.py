"""Settings of one capability (composed into `AuthSettings`)."""

from __future__ import annotations

from pydantic_settings import BaseSettings

__all__ = ["IdentitySettings"]


class IdentitySettings(BaseSettings):
    """Settings: sign-in with openid connect and oauth 2.0 providers."""
