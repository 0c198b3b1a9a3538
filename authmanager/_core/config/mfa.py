"""Settings of one capability (composed into `AuthSettings`)."""

from __future__ import annotations

from pydantic_settings import BaseSettings

__all__ = ["MfaSettings"]


class MfaSettings(BaseSettings):
    """Settings: second factors."""
