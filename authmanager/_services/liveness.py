"""The liveness rules, in one place: may this token, this session, this user act?

Every path that lets a request through (the dependencies, the routes, the WebSocket
watch, refresh and step-up) asks these functions, so a rule is never copied.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from authmanager._core.rows import SessionRow, TokenState
from authmanager._core.tokens import TokenPayload
from authmanager._core.users import user_is_active
from authmanager.exceptions import ExpiredTokenError, InvalidTokenError, Reason, RevokedTokenError

__all__ = [
    "check_session",
    "check_token_state",
    "require_live_user",
    "user_id_of",
    "user_is_active",
]

UserT = TypeVar("UserT")


def user_id_of(user: object) -> str:
    """Return the user's id as the string tokens carry in `sub`."""
    return str(user.id)  # type: ignore[attr-defined]


def require_live_user(user: UserT | None) -> UserT:
    """Return *user* if it exists and is active.

    Raises:
        RevokedTokenError: reason `user_not_found` or `user_inactive`.
    """
    if user is None:
        raise RevokedTokenError("The token's user no longer exists.", reason=Reason.USER_NOT_FOUND)
    if not user_is_active(user):
        raise RevokedTokenError("The token's user is inactive.", reason=Reason.USER_INACTIVE)
    return user


def check_token_state(payload: TokenPayload, state: TokenState | None, now: datetime) -> None:
    """Raise unless the stored state lets *payload*'s token be used at *now*.

    Raises:
        RevokedTokenError: unknown token, token or session revoked (incl. revoke-all).
        ExpiredTokenError: the session's absolute lifetime is over.
        InvalidTokenError: the token does not match its record.
    """
    if state is None:
        raise RevokedTokenError("The token is unknown to the store.", reason=Reason.UNKNOWN_TOKEN)
    if (
        state.type != payload.type
        or state.session_id != payload.sid
        or state.user_id != payload.sub
    ):
        raise InvalidTokenError("The token does not match its record.")
    if state.revoked_at is not None:
        raise RevokedTokenError()
    if not state.session_alive(now):
        _session_over(state.session_revoked_at, state.session_expires_at, now)


def check_session(payload: TokenPayload, row: SessionRow | None, now: datetime) -> SessionRow:
    """Return the session row of *payload* if it may still mint tokens at *now*.

    Raises:
        InvalidTokenError: the session does not match the token.
        ExpiredTokenError: the session's absolute lifetime is over.
        RevokedTokenError: the session was ended (incl. revoke-all).
    """
    if row is None or row.id != payload.sid or row.user_id != payload.sub:
        raise InvalidTokenError("The token does not match its session.")
    if not row.alive(now):
        _session_over(row.revoked_at, row.expires_at, now)
    return row


def _session_over(revoked_at: datetime | None, expires_at: datetime, now: datetime) -> None:
    if revoked_at is None and expires_at <= now:
        raise ExpiredTokenError("The login session has expired.", reason=Reason.SESSION_EXPIRED)
    raise RevokedTokenError("The login session has ended.", reason=Reason.SESSION_REVOKED)
