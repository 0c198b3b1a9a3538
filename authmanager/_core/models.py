"""The token tables and their `metadata` (re-exported as `authmanager.metadata` for Alembic)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
)

__all__ = ["dpop_proofs", "metadata", "sessions", "tokens", "user_state"]

metadata = MetaData()
"""The `MetaData` of authmanager's tables; add it to Alembic's `target_metadata`."""

_TS = DateTime(timezone=True)

sessions = Table(
    "authmanager_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(255), nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("last_used_at", _TS, nullable=False),
    # Absolute end of the session: rotation never moves it.
    Column("expires_at", _TS, nullable=False),
    # Expiry of the live refresh token; NULL for sessions without one (service tokens).
    Column("refresh_expires_at", _TS, nullable=True),
    Column("revoked_at", _TS, nullable=True),
    Column("revoke_reason", String(32), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("ip_address", String(64), nullable=True),
    Column("device_id", String(128), nullable=True),
    # RFC 7638 thumbprint of the DPoP key the session's tokens are bound to (RFC 9449).
    Column("dpop_jkt", String(64), nullable=True),
    # Custom claims of the login, carried into every token the session mints.
    Column("claims", JSON, nullable=False),
    Column("fresh_until", _TS, nullable=True),
    # The administrator acting as the user (RFC 8693 `act`); NULL for the user's own logins.
    Column("impersonated_by", String(255), nullable=True),
    Index("ix_authmanager_sessions_user", "user_id"),
    Index("ix_authmanager_sessions_expires", "expires_at"),
)

tokens = Table(
    "authmanager_tokens",
    metadata,
    Column("jti", String(36), primary_key=True),
    Column(
        "session_id",
        String(36),
        ForeignKey("authmanager_sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(255), nullable=False),
    Column("type", String(8), nullable=False),
    Column("issued_at", _TS, nullable=False),
    Column("expires_at", _TS, nullable=False),
    Column("revoked_at", _TS, nullable=True),
    Column("revoke_reason", String(32), nullable=True),
    # Rotation chain of refresh tokens.
    Column("parent_jti", String(36), nullable=True),
    Column("replaced_by", String(36), nullable=True),
    Index("ix_authmanager_tokens_session", "session_id"),
    Index("ix_authmanager_tokens_user", "user_id"),
    Index("ix_authmanager_tokens_expires", "expires_at"),
)

# One row per user who ever ran "logout everywhere": sessions created at or before
# `revoked_before` are dead, except `kept_session_id`. This closes the race where a
# login that started before the revoke-all commits its session after it.
user_state = Table(
    "authmanager_user_state",
    metadata,
    Column("user_id", String(255), primary_key=True),
    Column("revoked_before", _TS, nullable=False),
    Column("kept_session_id", String(36), nullable=True),
)

# DPoP replay cache (RFC 9449 §11.1): one row per proof seen, keyed by a hash of the
# key's thumbprint and the proof's `jti`; the primary key makes a replay's INSERT fail,
# so the check holds across workers. Rows past `expires_at` are deleted as proofs arrive.
dpop_proofs = Table(
    "authmanager_dpop_proofs",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("expires_at", _TS, nullable=False),
    Index("ix_authmanager_dpop_proofs_expires", "expires_at"),
)
