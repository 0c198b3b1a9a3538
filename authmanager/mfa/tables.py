"""The tables of second factors, on `authmanager.metadata`.

Nothing here holds a usable secret in clear: TOTP secrets are Fernet tokens, recovery
codes, `mfa_token`s and WebAuthn challenges are stored as SHA-256 digests (each has at
least 80 random bits, so a fast hash is enough), and passkeys keep only public keys.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from authmanager._core.models import metadata

__all__ = ["factors", "mfa_tokens", "recovery_codes", "webauthn_challenges"]

_TS = DateTime(timezone=True)

# One row per factor of a user. A TOTP factor is pending (`confirmed_at` NULL) until a
# code confirms it; only confirmed factors count anywhere else.
factors = Table(
    "authmanager_mfa_factors",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # "totp" or "passkey"
    Column("label", String(100), nullable=True),
    Column("created_at", _TS, nullable=False),
    Column("confirmed_at", _TS, nullable=True),
    Column("last_used_at", _TS, nullable=True),
    # TOTP: the secret as a Fernet token, and the last time step accepted (RFC 6238 §5.2:
    # a code is refused once a code of its step or a later one has been accepted).
    Column("secret", Text, nullable=True),
    Column("last_step", BigInteger, nullable=True),
    # Passkey: SHA-256 of the credential id (the look-up key), the id itself (base64url,
    # for allowCredentials), the COSE public key, the signature counter, the WebAuthn
    # user handle it was created under, transports, and whether it is backup eligible
    # (a synced passkey: "swk" in `amr`, else "hwk").
    Column("credential_key", String(64), nullable=True),
    Column("credential_id", Text, nullable=True),
    Column("public_key", Text, nullable=True),
    Column("sign_count", BigInteger, nullable=True),
    Column("user_handle", String(128), nullable=True),
    Column("transports", JSON, nullable=True),
    Column("backup_eligible", Boolean, nullable=True),
    Index("ix_authmanager_mfa_factors_user", "user_id"),
    Index("ux_authmanager_mfa_factors_credential", "credential_key", unique=True),
)

recovery_codes = Table(
    "authmanager_mfa_recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(255), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("used_at", _TS, nullable=True),
    Index("ix_authmanager_mfa_recovery_codes_user_hash", "user_id", "code_hash"),
)

# The second step of a sign-in: one row per `mfa_token` handed out by /login.
mfa_tokens = Table(
    "authmanager_mfa_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(255), nullable=False),
    Column("amr", JSON, nullable=False),  # the methods of the first step, e.g. ["pwd"]
    # The scopes the first step asked for (`/login`'s `scope`); NULL: all the user holds.
    Column("scopes", JSON, nullable=True),
    Column("created_at", _TS, nullable=False),
    Column("expires_at", _TS, nullable=False),
    # Every attempt is counted before it is checked, so concurrent guesses cannot pass
    # the limit; the token is refused once `attempts` reaches the limit.
    Column("attempts", Integer, nullable=False, default=0),
    Column("used_at", _TS, nullable=True),
    Index("ix_authmanager_mfa_tokens_expires", "expires_at"),
)

# WebAuthn challenges, single use: a verification deletes its row before anything else.
webauthn_challenges = Table(
    "authmanager_webauthn_challenges",
    metadata,
    Column("challenge_hash", String(64), primary_key=True),
    Column("purpose", String(16), nullable=False),  # "register", "login" or "mfa"
    Column("user_id", String(255), nullable=True),
    Column("mfa_token_hash", String(64), nullable=True),
    Column("user_handle", String(128), nullable=True),
    Column("expires_at", _TS, nullable=False),
    Index("ix_authmanager_webauthn_challenges_user", "user_id"),
    Index("ix_authmanager_webauthn_challenges_expires", "expires_at"),
)
