"""Value types of second factors, and the seams the composition root fills."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.exceptions import AuthError, Reason

__all__ = [
    "Credential",
    "FactorInfo",
    "FactorKind",
    "MfaChallenge",
    "MfaRequiredError",
    "SessionStarter",
    "SignOutMarks",
    "TotpEnrollment",
    "UserSource",
    "account_name",
]

FactorKind = Literal["totp", "passkey"]

#: A browser's WebAuthn response (`PublicKeyCredential.toJSON()`): a JSON object or its text.
Credential = Mapping[str, Any] | str


@dataclass(frozen=True, slots=True)
class FactorInfo:
    """One confirmed second factor of a user, as `list_factors` returns it.

    Attributes:
        id: The factor's id (the `{factor_id}` of the routes).
        kind: `"totp"` (an authenticator app) or `"passkey"` (WebAuthn).
        label: The user's name for it, or None.
        created_at: When it was added (for TOTP: when the enrollment began).
        last_used_at: When it last passed a sign-in, or None.
    """

    id: str
    kind: FactorKind
    label: str | None
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    """A TOTP enrollment waiting for its first code (`confirm_totp`).

    Show `qr_svg` (or `otpauth_uri`, or `secret` for manual entry) once, to the user who
    asked; never log it. The repr shows only the factor id.

    Attributes:
        factor_id: The id to confirm with.
        secret: The base32 secret (RFC 4648), for manual entry in an app.
        otpauth_uri: The `otpauth://totp/...` URI that authenticator apps read.
        qr_svg: The URI as a QR code, a standalone SVG document.
    """

    factor_id: str
    secret: str
    otpauth_uri: str
    qr_svg: str

    def __repr__(self) -> str:
        return f"TotpEnrollment(factor_id={self.factor_id!r})"


class MfaChallenge(NamedTuple):
    """The answer to a correct password for a user with a second factor.

    Unpacks as `mfa_token, factors = await service.challenge(user)`.

    Attributes:
        mfa_token: Single-use token for `/mfa/verify`; only its hash is stored.
        factors: What the user can answer with, in this order when present:
            `"totp"`, `"passkey"`, `"recovery_code"`.
    """

    mfa_token: str
    factors: list[str]

    def __repr__(self) -> str:
        return f"MfaChallenge(factors={self.factors!r})"


class MfaRequiredError(AuthError):
    """A correct password, for a user who must now pass a second factor.

    The HTTP layer answers it with 403 `{"error": "mfa_required", "mfa_token": ...,
    "factors": [...]}` (RFC 6749 §5.2's error shape, so an OAuth client sees an error,
    never a token). Raise it from a login route of your own, with
    `install_exception_handlers(app)`, to answer the same way. The token is an
    attribute, never part of the message or the repr.

    Attributes:
        challenge: The `mfa_token` and the factors the user can answer with.
    """

    default_reason = Reason.MFA_REQUIRED
    default_message = "A second factor is required; answer with the mfa_token."

    def __init__(self, challenge: MfaChallenge) -> None:
        super().__init__()
        self.challenge = challenge

    def fields(self) -> dict[str, Any]:
        """The members the 403 body adds to the error: `mfa_token` and `factors`."""
        return {"mfa_token": self.challenge.mfa_token, "factors": list(self.challenge.factors)}


class SessionStarter(Protocol):
    """Starts a login session for a user who signed in without (only) a password.

    Every token of the session carries the RFC 8176 `amr` claim given here; *scopes*
    (those the sign-in asked for) narrow the user's. With a caller's `session`, the
    session's rows are written in that transaction. With *announce*, the starter
    reports `login.succeeded` naming the new session.
    """

    async def start(
        self,
        user: Any,
        *,
        client: ClientInfo,
        amr: Sequence[str],
        fresh: bool = True,
        scopes: Collection[str] | None = None,
        session: AsyncSession | None = None,
        announce: bool = False,
    ) -> TokenPair:
        """Issue the session's access and refresh token."""
        ...  # pragma: no cover - protocol


class UserSource(Protocol):
    """The part of the application's user loader that second factors use."""

    async def get_user(self, session: AsyncSession, user_id: str) -> Any | None:
        """Return the user with this id, or None."""
        ...  # pragma: no cover - protocol


class SignOutMarks(Protocol):
    """The users' sign-out-everywhere marks (the token store's revoke-all watermark)."""

    async def revoked_before(self, db: AsyncSession, user_id: str) -> datetime | None:
        """Return when every session of the user last ended (logout-all, password
        change, deactivation), or None; anything begun at or before it is dead."""
        ...  # pragma: no cover - protocol


def account_name(user: object) -> str:
    """The account name authenticators show: `email`, `username` or `login`, else the id."""
    for attribute in ("email", "username", "login"):
        value = getattr(user, attribute, None)
        if isinstance(value, str) and value:
            return value
    return str(getattr(user, "id", ""))
