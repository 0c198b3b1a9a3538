"""Small public value types: `ClientInfo` and `SessionInfo`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ClientInfo", "SessionInfo"]


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who is calling: recorded on new sessions and in events.

    The router fills it from the request (honouring `trusted_proxies`); scripts may
    pass one to any manager method that takes `client=`.

    Attributes:
        ip_address: The client's address.
        user_agent: The client's `User-Agent` header.
        device_id: A client-chosen device identifier, when the client sends one.
        dpop_jkt: The RFC 7638 thumbprint of the key of a verified DPoP proof sent
            with the request (RFC 9449); new sessions are bound to it.
    """

    ip_address: str | None = None
    user_agent: str | None = None
    device_id: str | None = None
    dpop_jkt: str | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One active login session of a user, as `list_sessions` returns it.

    Attributes:
        id: The session id (the `sid` claim of its tokens).
        created_at: When the user logged in.
        last_used_at: When the session was last refreshed (or created).
        expires_at: When it ends unless refreshed: the earlier of the refresh token's
            expiry and the session's absolute end.
        user_agent: The `User-Agent` seen at login.
        ip_address: The client address seen at login.
        impersonated_by: The id of the administrator acting as the user in this
            session (see `AuthManager.impersonate`); None for every other session.
    """

    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    impersonated_by: str | None = None
