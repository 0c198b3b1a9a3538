"""RejectionReporter: every refused token or request becomes one `token.rejected` event."""

from __future__ import annotations

from typing import Any

import jwt

from authmanager._core.events import HookDispatcher
from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, Reason
from authmanager.hooks import EventName

__all__ = ["RejectionReporter"]

# Reasons for which the token's claims cannot be trusted even to name a user in an event.
_UNTRUSTED_IDS = frozenset(
    {
        Reason.MALFORMED,
        Reason.OVERSIZED,
        Reason.FORBIDDEN_HEADER,
        Reason.ALGORITHM,
        Reason.UNKNOWN_KEY,
        Reason.SIGNATURE,
    }
)
_NO_CLIENT = ClientInfo()


class RejectionReporter:
    """Report refusals (never the token itself) through the hook dispatcher."""

    def __init__(self, *, events: HookDispatcher) -> None:
        self._events = events

    def report(self, exc: AuthError, token: object, client: ClientInfo | None) -> None:
        """Emit `token.rejected` for *exc*, naming the token's ids when its signature held."""
        if not self._events.active:
            return
        client = client or _NO_CLIENT
        ids = _unverified_ids(token) if exc.reason not in _UNTRUSTED_IDS else {}
        self._events.emit(
            EventName.TOKEN_REJECTED,
            reason=exc.reason,
            client_ip=client.ip_address,
            user_agent=client.user_agent,
            **ids,
        )


def _unverified_ids(token: object) -> dict[str, str]:
    """The ids of a signed-but-refused token, for its rejection event (never the token)."""
    if not isinstance(token, str):
        return {}
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except Exception:
        return {}
    ids = {
        "user_id": claims.get("sub"),
        "session_id": claims.get("sid"),
        "token_id": claims.get("jti"),
    }
    return {k: v[:64] for k, v in ids.items() if isinstance(v, str)}
