"""The public value types of external sign-in: `ExternalIdentity`, `IdentityInfo` and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from authmanager._core.tokens import TokenPair

__all__ = [
    "MAX_ID_TOKEN_BYTES",
    "ExternalIdentity",
    "FlowResult",
    "FlowStart",
    "IdentityInfo",
    "Purpose",
]

Purpose = Literal["login", "link"]

#: The longest ID token a native app may send (checked before any parsing).
MAX_ID_TOKEN_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """Who a provider says the user is, after its answer was fully verified.

    The loader's `get_user_for_identity(session, identity)` receives one to find,
    create or refuse the user of an identity that has no link yet.

    Attributes:
        provider: The provider's name in `AUTH_OIDC_PROVIDERS`.
        issuer: The provider's issuer (for plain OAuth 2.0, the origin of its
            authorization endpoint); with `subject`, the identity's stable key.
        subject: The provider's id of the user (`sub`), never reassigned by it.
        email: The email the provider gives, if any.
        email_verified: True only when the provider says the email is verified.
        name: The display name the provider gives, if any.
        claims: Every claim of the ID token (or field of the userinfo answer).
    """

    provider: str
    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"ExternalIdentity(provider={self.provider!r}, issuer={self.issuer!r}, "
            f"subject={self.subject!r}, email_verified={self.email_verified})"
        )


@dataclass(frozen=True, slots=True)
class IdentityInfo:
    """One identity linked to a user, as `list_identities` returns it.

    Attributes:
        id: The link's id (`DELETE /identities/{identity_id}`).
        provider: The provider's name when the link was made.
        issuer: The provider's issuer.
        subject: The provider's id of the user.
        email: The email the provider gave at the last sign-in.
        created_at: When the identity was linked.
        last_used_at: When it was last used to sign in.
    """

    id: str
    provider: str
    issuer: str
    subject: str
    email: str | None
    created_at: datetime
    last_used_at: datetime


class FlowStart(NamedTuple):
    """The start of a provider sign-in: where to send the browser, and what it keeps.

    Attributes:
        redirect_url: The provider's authorization URL (answer 302 to it).
        browser_cookie_value: The value of the HttpOnly cookie that binds the flow to
            this browser; without it the callback is refused.
    """

    redirect_url: str
    browser_cookie_value: str


@dataclass(frozen=True, slots=True)
class FlowResult:
    """A completed provider sign-in.

    Attributes:
        purpose: `"login"` (a new session) or `"link"` (an identity added to a user).
        user_id: The user signed in, or the one the identity was linked to.
        identity: The link used or made.
        next: The same-site path to send the browser to.
        tokens: The new session's tokens, for `"login"`; None for `"link"`.
    """

    purpose: Purpose
    user_id: str
    identity: IdentityInfo
    next: str
    tokens: TokenPair | None = None

    def __repr__(self) -> str:
        return f"FlowResult(purpose={self.purpose!r}, user_id={self.user_id!r}, next={self.next!r})"
