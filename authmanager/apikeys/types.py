"""The values the API key service hands out: `NewApiKey`, `ApiKeyInfo`, `ApiKeyPrincipal`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["ApiKeyInfo", "ApiKeyPrincipal", "NewApiKey"]


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """One API key of a user, as `list_api_keys` returns it (never the key itself).

    Attributes:
        id: The key's id (for `revoke_api_key` and `DELETE /api-keys/{key_id}`).
        name: The name the user gave it.
        prefix: The key's first characters (`am_` and four more), so a user can tell
            which key is which; the rest of the key (166 random bits) stays secret.
        scopes: The scopes the key grants, in the order given.
        created_at: When it was created.
        expires_at: When it stops working, or None for a key that never expires.
        last_used_at: When it was last accepted, to within about a minute; None if never.
    """

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just created: the only time its secret is available.

    Attributes:
        id: The key's id.
        key: The secret to give the client; only its hash is stored, so it cannot be
            shown again.
        name: The name the user gave it.
        prefix: The key's visible first characters (see `ApiKeyInfo.prefix`).
        scopes: The scopes the key grants.
        created_at: When it was created.
        expires_at: When it stops working, or None for a key that never expires.
    """

    id: str
    key: str = field(repr=False)
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    """Who a verified API key speaks for.

    Attributes:
        user_id: The user the key belongs to.
        key_id: The key's id.
        name: The key's name.
        scopes: The scopes the key grants (`require_scopes` checks them).
        expires_at: When the key stops working, or None.
    """

    user_id: str
    key_id: str
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
