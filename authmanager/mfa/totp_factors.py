"""TotpFactors: enrollment, confirmation and single-use acceptance of TOTP codes.

Every method runs in the caller's transaction and raises before writing anything
when a code is wrong, so a refusal changes nothing stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager.exceptions import InvalidCredentialsError, Reason
from authmanager.mfa import totp
from authmanager.mfa.crypto import SecretBox
from authmanager.mfa.factors import FactorStore
from authmanager.mfa.types import TotpEnrollment

__all__ = ["ENROLLMENT_TTL", "TotpFactors"]

#: A TOTP enrollment not confirmed within this time can no longer be confirmed.
ENROLLMENT_TTL = timedelta(minutes=15)


def _wrong(reason: Reason = Reason.WRONG_CODE) -> InvalidCredentialsError:
    if reason is Reason.UNKNOWN_FACTOR:
        return InvalidCredentialsError(
            "No TOTP enrollment with this id awaits a code.", reason=reason
        )
    return InvalidCredentialsError("The code is not valid.", reason=reason)


class TotpFactors:
    """TOTP factors whose secrets *box* encrypts.

    Args:
        box: The Fernet key ring of `AUTH_MFA_ENCRYPTION_KEYS`.
        issuer: The issuer name of `otpauth://` URIs.
    """

    def __init__(self, *, box: SecretBox, issuer: str) -> None:
        self._box = box
        self._issuer = issuer
        self._store = FactorStore()

    async def begin(
        self, db: AsyncSession, user_id: str, *, account: str, label: str | None, now: datetime
    ) -> TotpEnrollment:
        """Store a pending factor with a new secret (replacing an earlier pending one)."""
        await self._store.delete_pending_totp(db, user_id)
        secret = totp.new_secret()
        factor_id = await self._store.add_totp(
            db, user_id, secret=self._box.encrypt(secret), label=label, now=now
        )
        uri = totp.provisioning_uri(secret, account=account, issuer=self._issuer)
        return TotpEnrollment(factor_id, secret, uri, totp.qr_svg(uri))

    async def confirm(
        self, db: AsyncSession, user_id: str, factor_id: str, code: str, *, now: datetime
    ) -> None:
        """Activate the user's pending factor when *code* is valid for it.

        Raises:
            InvalidCredentialsError: `unknown_factor` (no such pending enrollment, or it
                is older than `ENROLLMENT_TTL`), or `wrong_code`.
        """
        row = await self._store.get(db, user_id, factor_id)
        if (
            row is None
            or row.kind != "totp"
            or row.confirmed_at is not None
            or row.secret is None
            or row.created_at < now - ENROLLMENT_TTL
        ):
            raise _wrong(Reason.UNKNOWN_FACTOR)
        step = totp.matching_step(self._box.decrypt(row.secret), code, now=now)
        if step is None:
            raise _wrong()
        if not await self._store.confirm_totp(db, factor_id, step=step, now=now):
            raise _wrong(Reason.UNKNOWN_FACTOR)  # confirmed concurrently

    async def accept(self, db: AsyncSession, user_id: str, code: str, *, now: datetime) -> str:
        """Accept *code* for one of the user's confirmed TOTP factors; return its id.

        A code works once: its step is recorded by a conditional UPDATE that fails when
        that step (or a later one) was accepted before, even concurrently.

        Raises:
            InvalidCredentialsError: `wrong_code`, or `code_replayed`.
        """
        replayed = False
        for row in await self._store.confirmed(db, user_id, "totp"):
            if row.secret is None:
                continue
            step = totp.matching_step(self._box.decrypt(row.secret), code, now=now)
            if step is None:
                continue
            if await self._store.accept_step(db, row.id, step=step, now=now):
                return row.id
            replayed = True
        raise _wrong(Reason.CODE_REPLAYED if replayed else Reason.WRONG_CODE)

    async def rotate(self, db: AsyncSession) -> int:
        """Re-encrypt every secret not under the first key; return how many were."""
        count = 0
        for factor_id, secret in await self._store.totp_secrets(db):
            if self._box.is_current(secret):
                continue
            if await self._store.replace_secret(db, factor_id, secret, self._box.rotate(secret)):
                count += 1
        return count
