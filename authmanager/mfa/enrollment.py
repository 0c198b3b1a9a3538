"""Enrollment: adding, listing, renaming and removing a user's factors and recovery codes.

Adding a factor, removing one and replacing recovery codes should follow a fresh login:
the HTTP layer enforces that (`fresh_user`); these methods trust their caller.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager.exceptions import AuthError, InvalidCredentialsError, Reason
from authmanager.hooks import EventName
from authmanager.mfa.factors import FactorRow, FactorStore
from authmanager.mfa.recovery import RecoveryCodes
from authmanager.mfa.types import Credential, FactorInfo, TotpEnrollment, account_name

if TYPE_CHECKING:
    from authmanager.mfa.passkey_factors import PasskeyFactors
    from authmanager.mfa.totp_factors import TotpFactors

__all__ = ["MAX_FACTORS", "Enrollment", "clean_label"]

#: Factors (pending ones included) a user may hold; more is refused.
MAX_FACTORS = 20
MAX_LABEL_CHARS = 100
#: Rate-limit key space of failed enrollment confirmations (apart from sign-in's).
ENROLL_SPACE = "mfa-enroll"


def clean_label(label: str | None) -> str | None:
    """Return *label* without control, format or unassigned characters, stripped.

    Such characters are dropped rather than refused: a label is only shown, and they
    could reorder its text on screen (bidi controls), hide in it, or not be storable
    (lone surrogates). None or nothing left means no label.

    Raises:
        ValueError: longer than 100 characters.
    """
    if label is None:
        return None
    if len(label) > MAX_LABEL_CHARS:
        raise ValueError(f"A factor label has at most {MAX_LABEL_CHARS} characters.")
    kept = "".join(c for c in label if not unicodedata.category(c).startswith("C"))
    return kept.strip() or None


def _check_room(rows: list[FactorRow]) -> None:
    if len(rows) >= MAX_FACTORS:
        raise AuthError(
            f"A user has at most {MAX_FACTORS} factors; remove one first.",
            reason=Reason.TOO_MANY_FACTORS,
        )


class Enrollment:
    """The factor management of users.

    Args:
        database: Transactions on the application's database.
        events: Where `factor.added` and `factor.removed` go.
        limiter: Counts failed TOTP confirmations per user.
        rule: The limit (`mfa_rate_limit`), or None for none.
        totp: TOTP factors, or None when no encryption key is configured.
        passkeys: Passkeys, or None when no RP id is configured.
        totp_enabled: Whether new TOTP enrollments are offered.
    """

    def __init__(
        self,
        *,
        database: Database,
        events: HookDispatcher,
        limiter: RateLimiter,
        rule: RateLimitItem | None,
        totp: TotpFactors | None,
        passkeys: PasskeyFactors | None,
        totp_enabled: bool,
    ) -> None:
        self._db = database
        self._events = events
        self._limiter = limiter
        self._rule = rule
        self._totp = totp
        self._passkeys = passkeys
        self._totp_enabled = totp_enabled
        self._factors = FactorStore()
        self._codes = RecoveryCodes()

    # --- TOTP ------------------------------------------------------------------------
    async def begin_totp(
        self,
        user: Any,
        *,
        label: str | None = None,
        name: str | None = None,
        session: AsyncSession | None = None,
    ) -> TotpEnrollment:
        """Start a TOTP enrollment; it stays inactive until `confirm_totp`."""
        if self._totp is None or not self._totp_enabled:
            raise RuntimeError(
                "TOTP is off: set AUTH_MFA_TOTP_ENABLED and AUTH_MFA_ENCRYPTION_KEYS."
            )
        label = clean_label(label)
        user_id = str(user.id)
        async with self._db.transaction(session) as db:
            rows = await self._factors.lock_user(db, user_id)
            _check_room([r for r in rows if r.kind != "totp" or r.confirmed_at is not None])
            return await self._totp.begin(
                db, user_id, account=name or account_name(user), label=label, now=utcnow()
            )

    async def confirm_totp(
        self, user: Any, factor_id: str, code: str, *, session: AsyncSession | None = None
    ) -> list[str]:
        """Activate a pending enrollment with its first code; return new recovery codes."""
        if self._totp is None:
            raise RuntimeError("TOTP is off: set AUTH_MFA_ENCRYPTION_KEYS.")
        user_id = str(user.id)
        if self._rule is not None:
            await self._limiter.check(ENROLL_SPACE, user_id, self._rule)
        now = utcnow()
        try:
            async with self._db.transaction(session) as db:
                await self._factors.lock_user(db, user_id)
                await self._totp.confirm(db, user_id, factor_id, code, now=now)
                fresh = not await self._codes.remaining(db, user_id)
                codes = await self._codes.replace(db, user_id, now) if fresh else []
        except InvalidCredentialsError:
            if self._rule is not None:
                await self._limiter.record(ENROLL_SPACE, user_id, self._rule)
            raise
        self._added(user_id, "totp", factor_id)
        return codes

    # --- passkeys ----------------------------------------------------------------------
    async def passkey_registration_options(
        self, user: Any, *, name: str | None = None, session: AsyncSession | None = None
    ) -> dict[str, Any]:
        """Return the options of `navigator.credentials.create()` for a new passkey."""
        passkeys = self._require_passkeys()
        user_id = str(user.id)
        async with self._db.transaction(session) as db:
            rows = await self._factors.lock_user(db, user_id)
            _check_room(rows)
            return await passkeys.registration_options(
                db, user_id, rows, user_name=name or account_name(user), now=utcnow()
            )

    async def register_passkey(
        self,
        user: Any,
        credential: Credential,
        *,
        label: str | None = None,
        session: AsyncSession | None = None,
    ) -> FactorInfo:
        """Verify the browser's registration response and store the passkey."""
        passkeys = self._require_passkeys()
        label = clean_label(label)
        user_id = str(user.id)
        parsed, challenge = passkeys.ceremonies.parse_registration(credential)
        now = utcnow()
        # Its own transaction: the challenge is spent even when the response fails.
        async with self._db.transaction(session) as db:
            handle = await passkeys.consume_registration(db, user_id, challenge, now=now)
        if handle is None:
            raise InvalidCredentialsError(
                "The passkey registration was not started, or has expired.",
                reason=Reason.CHALLENGE,
            )
        async with self._db.transaction(session) as db:
            rows = await self._factors.lock_user(db, user_id)
            _check_room(rows)
            row = await passkeys.store(
                db, user_id, parsed, challenge, user_handle=handle, label=label, now=now
            )
        self._added(user_id, "passkey", row.id)
        return row.info()

    # --- every kind --------------------------------------------------------------------
    async def list_factors(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[FactorInfo]:
        """Return the user's confirmed factors, oldest first."""
        async with self._db.reading(session) as db:
            return [row.info() for row in await self._factors.confirmed(db, str(user_id))]

    async def rename_factor(
        self, user: Any, factor_id: str, label: str | None, *, session: AsyncSession | None = None
    ) -> bool:
        """Set the label of the user's factor; False when the user has no such factor."""
        cleaned = clean_label(label)
        async with self._db.transaction(session) as db:
            return await self._factors.rename(db, str(user.id), factor_id, cleaned)

    async def remove_factor(
        self, user: Any, factor_id: str, *, session: AsyncSession | None = None
    ) -> bool:
        """Delete the user's factor; with the last one, the recovery codes go too."""
        user_id = str(user.id)
        async with self._db.transaction(session) as db:
            rows = await self._factors.lock_user(db, user_id)
            target = next((r for r in rows if r.id == factor_id), None)
            if target is None or not await self._factors.remove(db, user_id, factor_id):
                return False
            left = [r for r in rows if r.id != factor_id and r.confirmed_at is not None]
            if not left:
                await self._codes.delete_all(db, user_id)
        if target.confirmed_at is not None:
            self._events.emit(
                EventName.FACTOR_REMOVED,
                user_id=user_id,
                extra={"kind": target.kind, "factor_id": factor_id, "last": not left},
            )
        return True

    async def new_recovery_codes(
        self, user: Any, *, session: AsyncSession | None = None
    ) -> list[str]:
        """Replace the user's recovery codes with ten new ones; return them (shown once)."""
        user_id = str(user.id)
        async with self._db.transaction(session) as db:
            rows = await self._factors.lock_user(db, user_id)
            if not any(r.confirmed_at is not None for r in rows):
                raise InvalidCredentialsError(
                    "Recovery codes need a second factor first.", reason=Reason.NO_FACTOR
                )
            codes = await self._codes.replace(db, user_id, utcnow())
        self._events.emit(
            EventName.FACTOR_ADDED,
            user_id=user_id,
            extra={"kind": "recovery_codes", "count": len(codes)},
        )
        return codes

    async def rotate_secrets(self, *, session: AsyncSession | None = None) -> int:
        """Re-encrypt every TOTP secret under the first key; return how many changed."""
        if self._totp is None:
            return 0
        async with self._db.transaction(session) as db:
            return await self._totp.rotate(db)

    def _require_passkeys(self) -> PasskeyFactors:
        if self._passkeys is None:
            raise RuntimeError("Passkeys are off: set AUTH_WEBAUTHN_RP_ID.")
        return self._passkeys

    def _added(self, user_id: str, kind: str, factor_id: str) -> None:
        self._events.emit(
            EventName.FACTOR_ADDED, user_id=user_id, extra={"kind": kind, "factor_id": factor_id}
        )
