"""The API key table, on `authmanager.metadata`."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, String, Table

from authmanager._core.models import metadata

__all__ = ["api_keys"]

_TS = DateTime(timezone=True)

api_keys = Table(
    "authmanager_api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(255), nullable=False),
    # SHA-256 (hex) of the whole key: the key itself is never stored.
    Column("key_hash", String(64), nullable=False),
    # The prefix and the first characters of the key, shown so a user can tell keys apart.
    Column("prefix", String(32), nullable=False),
    Column("name", String(100), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("expires_at", _TS, nullable=True),
    # Written behind, at most once a minute per key (see recorder.py).
    Column("last_used_at", _TS, nullable=True),
    Column("revoked_at", _TS, nullable=True),
    Column("revoke_reason", String(32), nullable=True),
    # Verification's one look-up; unique, so one key can never match two rows.
    Index("ix_authmanager_api_keys_hash", "key_hash", unique=True),
    Index("ix_authmanager_api_keys_user", "user_id"),
)
