"""Settings of one capability (composed into `AuthSettings`)."""

from __future__ import annotations

from pydantic_settings import BaseSettings

__all__ = ["ApiKeySettings"]


class ApiKeySettings(BaseSettings):
    """Settings: api keys and session controls for administrators."""
