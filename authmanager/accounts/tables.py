"""The table of single-use action tokens, on `authmanager.metadata`."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, String, Table

from authmanager._core.models import metadata

__all__ = ["action_tokens"]

_TS = DateTime(timezone=True)

# One row per issued token. The token itself is never stored: `token_hash` is the
# SHA-256 of it (a 256-bit random value needs no slow hash: it cannot be guessed, so
# the digest cannot be reversed by trying candidates).
action_tokens = Table(
    "authmanager_action_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(255), nullable=False),
    Column("purpose", String(32), nullable=False),
    # Small, non-secret facts bound to the token (the address it was sent to).
    Column("data", JSON, nullable=True),
    Column("created_at", _TS, nullable=False),
    Column("expires_at", _TS, nullable=False),
    # Set by the one conditional UPDATE that consumes the token.
    Column("used_at", _TS, nullable=True),
    Index("ix_authmanager_action_tokens_user_purpose", "user_id", "purpose"),
    Index("ix_authmanager_action_tokens_expires", "expires_at"),
)
