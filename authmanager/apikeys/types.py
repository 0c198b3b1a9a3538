"""The values the API key service hands out: `NewApiKey`, `ApiKeyInfo`, `ApiKeyPrincipal`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

from authmanager._core.tokens import TokenPayload

__all__ = ["ApiKeyInfo", "ApiKeyPrincipal", "NewApiKey", "Principal"]


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


@dataclass(frozen=True, slots=True, repr=False)
class ApiKeyPrincipal(Mapping[str, Any]):
    """Who a verified API key speaks for: what `require_scopes` gives a route for a key.

    It reads like a `TokenPayload` where the two mean the same thing, so code written
    for tokens keeps working: `principal.sub` (the user id), `principal.scopes`,
    `principal.type` (`"api_key"`, where a token says `"access"`), `principal.exp`,
    `principal.amr` (empty: a key records no sign-in), and the mapping view
    (`principal["sub"]`, `principal.get("roles")`, which is None: a key carries no
    custom claims). What only a JWT has (`jti`, `sid`, `iat`, `aud`, `iss`) is absent:
    narrow first (`isinstance(p, TokenPayload)` or `p.type == "api_key"`).

    Attributes:
        user_id: The user the key belongs to (also `sub`).
        key_id: The key's id.
        name: The key's name.
        scopes: The scopes the key grants (`require_scopes` checks them).
        expires_at: When the key stops working, or None (also `exp`).
    """

    user_id: str
    key_id: str
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None

    @property
    def sub(self) -> str:
        """The user id, as a token's `sub`."""
        return self.user_id

    @property
    def type(self) -> Literal["api_key"]:
        """Always `"api_key"` (a token's `type` is `"access"`)."""
        return "api_key"

    @property
    def exp(self) -> datetime | None:
        """When the key expires, or None."""
        return self.expires_at

    @property
    def amr(self) -> list[str]:
        """No sign-in method: a key is not a login (RFC 8176 `amr` is empty)."""
        return []

    @property
    def extra(self) -> dict[str, Any]:
        """No custom claims: a key carries none."""
        return {}

    @property
    def claims(self) -> dict[str, Any]:
        """The mapping view: `sub`, `type`, `scopes`, `key_id`, `name`, `exp`."""
        return {
            "sub": self.user_id,
            "type": "api_key",
            "scopes": list(self.scopes),
            "key_id": self.key_id,
            "name": self.name,
            "exp": None if self.expires_at is None else int(self.expires_at.timestamp()),
        }

    def __getitem__(self, key: str) -> Any:
        return self.claims[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)

    def __repr__(self) -> str:
        return f"ApiKeyPrincipal(sub={self.user_id!r}, key_id={self.key_id!r})"


#: What `require_scopes` and `token_validator` give a route: the payload of an access
#: token, or the principal of an API key (tell them apart by `.type`).
Principal: TypeAlias = TokenPayload | ApiKeyPrincipal
