"""Issuer: builds the rows and JWTs of a new session or a rotation (pure, no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from authmanager._core.settings import AuthSettings
from authmanager._core.tokens import RESERVED_CLAIMS, TokenCodec, TokenPair, TokenType

__all__ = ["Issuer", "Minted", "SessionClaims", "split_data"]

#: The width of the `user_id` columns: a longer `sub` could not be stored.
MAX_SUB_LENGTH = 255


def new_id() -> str:
    """Return a fresh random identifier (UUID4 hex: 122 random bits)."""
    return uuid.uuid4().hex


def split_data(data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split the caller's `data` into the subject and the custom claims.

    Raises:
        ValueError: `sub` is missing or not a non-empty string, or a claim that the
            library sets itself is present.
    """
    sub = data.get("sub")
    if not isinstance(sub, str) or not sub:
        raise ValueError('data["sub"] must be the user id as a non-empty string.')
    if len(sub) > MAX_SUB_LENGTH:
        raise ValueError(f'data["sub"] is longer than {MAX_SUB_LENGTH} characters.')
    reserved = RESERVED_CLAIMS.intersection(data)
    if reserved:
        raise ValueError(
            f"Claims {sorted(reserved)} are set by authmanager; remove them from data."
        )
    return sub, {k: v for k, v in data.items() if k != "sub"}


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a session remembers to mint its later tokens: custom claims, aud, iss."""

    custom: dict[str, Any]
    audience: str | None
    issuer: str | None
    #: Binding claims (`did`, `cnf`, `uah`, `ipn`; see `binding.py`), in every token.
    binding: dict[str, Any] = field(default_factory=dict)
    #: How the user signed in (RFC 8176 `amr` values), in every token of the session.
    amr: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the JSON stored in the session row."""
        stored: dict[str, Any] = {"c": self.custom, "aud": self.audience, "iss": self.issuer}
        if self.binding:
            stored["b"] = self.binding
        if self.amr:
            stored["m"] = list(self.amr)
        return stored

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> SessionClaims:
        """Read back what `to_json` stored."""
        return cls(
            dict(stored.get("c") or {}),
            stored.get("aud"),
            stored.get("iss"),
            dict(stored.get("b") or {}),
            tuple(stored.get("m") or ()),
        )


@dataclass(slots=True)
class Minted:
    """Tokens minted in memory, with the rows that track them."""

    access_token: str = ""
    refresh_token: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    access_expires: datetime | None = None
    refresh_expires: datetime | None = None
    #: `"DPoP"` when the access token is bound to a DPoP key (RFC 9449 §5).
    token_type: str = "bearer"


class Issuer:
    """Mint the JWTs of a session and the rows that track them."""

    def __init__(self, settings: AuthSettings, codec: TokenCodec) -> None:
        self._codec = codec
        self.access_lifetime = timedelta(minutes=settings.access_token_expire_minutes)
        self.refresh_lifetime = timedelta(days=settings.refresh_token_expire_days)
        self.session_lifetime = timedelta(days=settings.session_max_age_days)
        self.fresh_lifetime = timedelta(minutes=settings.fresh_token_minutes)

    def mint(
        self,
        minted: Minted,
        *,
        token_type: TokenType,
        sub: str,
        session_id: str,
        claims: SessionClaims,
        now: datetime,
        session_end: datetime,
        lifetime: timedelta | None = None,
        extra: Mapping[str, Any] | None = None,
        parent_jti: str | None = None,
        jti: str | None = None,
    ) -> str:
        """Mint one token into *minted*; its life never passes *session_end*."""
        jti = jti or new_id()
        default = self.access_lifetime if token_type == "access" else self.refresh_lifetime
        life = min(lifetime or default, session_end - now)
        body: dict[str, Any] = {
            **claims.custom,
            **(extra or {}),
            **claims.binding,
            **({"amr": list(claims.amr)} if claims.amr else {}),
            "sub": sub,
            "jti": jti,
            "sid": session_id,
        }
        # Refresh tokens are for this manager only: they always carry its own audience.
        is_access = token_type == "access"
        token = self._codec.encode(
            body,
            token_type=token_type,
            issued_at=now,
            lifetime=life,
            audience=claims.audience if is_access else None,
            issuer=claims.issuer if is_access else None,
        )
        expires = now + life
        minted.rows.append(
            {
                "jti": jti,
                "session_id": session_id,
                "user_id": sub,
                "type": token_type,
                "issued_at": now,
                "expires_at": expires,
                "parent_jti": parent_jti,
            }
        )
        if is_access:
            minted.access_token, minted.access_expires = token, expires
            if "cnf" in claims.binding:
                minted.token_type = "DPoP"
        else:
            minted.refresh_token, minted.refresh_expires = token, expires
        return jti

    @staticmethod
    def pair(minted: Minted, session_id: str, now: datetime) -> TokenPair:
        """Return the `TokenPair` of an access and a refresh token minted together."""
        assert minted.access_expires is not None  # noqa: S101
        assert minted.refresh_expires is not None  # noqa: S101
        return TokenPair(
            access_token=minted.access_token,
            refresh_token=minted.refresh_token,
            expires_in=int((minted.access_expires - now).total_seconds()),
            refresh_expires_in=int((minted.refresh_expires - now).total_seconds()),
            session_id=session_id,
            token_type=minted.token_type,
        )
