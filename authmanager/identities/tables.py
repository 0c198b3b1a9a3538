"""The tables of external sign-in, on `authmanager.metadata`."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, String, Table, UniqueConstraint

from authmanager._core.models import metadata

__all__ = ["identities", "identity_replays", "oidc_flows"]

_TS = DateTime(timezone=True)

# One row per (issuer, subject) linked to a user: the provider's subject is the only
# stable key (emails change and are reassigned); the unique constraint makes two
# concurrent first sign-ins of one identity link it once.
identities = Table(
    "authmanager_identities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(255), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("issuer", String(512), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("email", String(320), nullable=True),
    Column("created_at", _TS, nullable=False),
    Column("last_used_at", _TS, nullable=False),
    UniqueConstraint("issuer", "subject", name="uq_authmanager_identities_issuer_subject"),
    Index("ix_authmanager_identities_user", "user_id"),
)

# Started code flows, keyed by the SHA-256 of `state`; `browser_hash` is the SHA-256 of
# the browser's cookie value. Nothing here is a secret: the PKCE verifier and the nonce
# are derived from the cookie value, which only the browser holds (a copy of this table
# lets no one finish a flow). A row is deleted when its callback consumes it.
oidc_flows = Table(
    "authmanager_oidc_flows",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("browser_hash", String(64), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("purpose", String(8), nullable=False),
    Column("link_user_id", String(255), nullable=True),
    Column("next_path", String(2048), nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("expires_at", _TS, nullable=False),
    Index("ix_authmanager_oidc_flows_expires", "expires_at"),
)

# Nonces of ID tokens exchanged by native apps (SHA-256 of issuer and nonce): each
# exchange works once, so a stolen ID token cannot be replayed while it lives.
identity_replays = Table(
    "authmanager_identity_replays",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("expires_at", _TS, nullable=False),
    Index("ix_authmanager_identity_replays_expires", "expires_at"),
)
