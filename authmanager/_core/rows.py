"""Plain records read from the token tables, and the liveness rule of a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authmanager._core.clock import as_utc

__all__ = ["SessionRow", "TokenRow", "TokenState", "opt", "session_row"]


def opt(value: datetime | None) -> datetime | None:
    """Return *value* as aware UTC, or None."""
    return None if value is None else as_utc(value)


@dataclass(frozen=True, slots=True)
class TokenState:
    """What verification needs to know about one token, read in one statement."""

    type: str
    user_id: str
    session_id: str
    revoked_at: datetime | None
    session_revoked_at: datetime | None
    session_expires_at: datetime
    session_created_at: datetime
    revoked_before: datetime | None
    kept_session_id: str | None
    fresh_until: datetime | None
    device_id: str | None

    def session_alive(self, now: datetime) -> bool:
        """Return whether the session is neither revoked, expired, nor cut by revoke-all."""
        return _alive(
            self.session_id,
            self.session_revoked_at,
            self.session_expires_at,
            self.session_created_at,
            self.revoked_before,
            self.kept_session_id,
            now,
        )


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One login session as stored."""

    id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    refresh_expires_at: datetime | None
    revoked_at: datetime | None
    user_agent: str | None
    ip_address: str | None
    device_id: str | None
    claims: dict[str, Any]
    revoked_before: datetime | None
    kept_session_id: str | None

    def alive(self, now: datetime) -> bool:
        """Return whether the session may still be used."""
        return _alive(
            self.id,
            self.revoked_at,
            self.expires_at,
            self.created_at,
            self.revoked_before,
            self.kept_session_id,
            now,
        )


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One token as stored (for the slow paths: reuse detection, diagnostics)."""

    jti: str
    session_id: str
    user_id: str
    type: str
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    issued_at: datetime | None = None
    #: The refresh token that replaced this one when it was rotated.
    replaced_by: str | None = None


def _alive(
    session_id: str,
    revoked_at: datetime | None,
    expires_at: datetime,
    created_at: datetime,
    revoked_before: datetime | None,
    kept_session_id: str | None,
    now: datetime,
) -> bool:
    if revoked_at is not None or expires_at <= now:
        return False
    return not (
        revoked_before is not None
        and created_at <= revoked_before
        and session_id != kept_session_id
    )


def session_row(row: Any) -> SessionRow:
    """Build a `SessionRow` from a result row of the session query."""
    return SessionRow(
        id=row.id,
        user_id=row.user_id,
        created_at=as_utc(row.created_at),
        last_used_at=as_utc(row.last_used_at),
        expires_at=as_utc(row.expires_at),
        refresh_expires_at=opt(row.refresh_expires_at),
        revoked_at=opt(row.revoked_at),
        user_agent=row.user_agent,
        ip_address=row.ip_address,
        device_id=row.device_id,
        claims=dict(row.claims or {}),
        revoked_before=opt(row.revoked_before),
        kept_session_id=row.kept_session_id,
    )
