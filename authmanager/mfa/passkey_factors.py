"""PasskeyFactors: the stored side of WebAuthn ceremonies (challenges, credentials, counters).

Every method runs in the caller's transaction. The orchestration (which transaction,
which events) is the sign-in's and the enrollment's.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager.exceptions import InvalidCredentialsError, Reason
from authmanager.mfa.challenges import ChallengeStore
from authmanager.mfa.factors import FactorRow, FactorStore
from authmanager.mfa.passkeys import Assertion, Ceremonies
from authmanager.mfa.types import Credential

__all__ = ["PasskeyFactors"]

logger = logging.getLogger("authmanager.mfa")

Method = Literal["hwk", "swk"]


def _refused(message: str, reason: Reason = Reason.PASSKEY) -> InvalidCredentialsError:
    return InvalidCredentialsError(message, reason=reason)


def method_of(row: FactorRow) -> Method:
    """The RFC 8176 `amr` value of a passkey.

    A backup-eligible credential is a synced passkey whose private key lives in a
    cloud keychain ("swk", software-secured key); a device-bound one stays in its
    authenticator's hardware ("hwk"). Without attestation this is the best signal the
    response carries, and the flag cannot change after registration.
    """
    return "swk" if row.backup_eligible else "hwk"


class PasskeyFactors:
    """Passkeys of one relying party.

    Args:
        ceremonies: The py_webauthn options and checks, for the configured RP.
        challenge_ttl: How long a challenge stays usable.
    """

    def __init__(self, *, ceremonies: Ceremonies, challenge_ttl: timedelta) -> None:
        self.ceremonies = ceremonies
        self._ttl = challenge_ttl
        self._factors = FactorStore()
        self._challenges = ChallengeStore()

    # --- registration ----------------------------------------------------------------
    async def registration_options(
        self,
        db: AsyncSession,
        user_id: str,
        rows: list[FactorRow],
        *,
        user_name: str,
        now: datetime,
    ) -> dict[str, Any]:
        """Options for a new passkey of the user whose factors are *rows*."""
        passkeys = [r for r in rows if r.kind == "passkey" and r.confirmed_at is not None]
        # One WebAuthn user handle per user (random, not the user id: the spec asks for
        # no personal data), so an authenticator replaces rather than duplicates.
        handle = next((r.user_handle for r in passkeys if r.user_handle), None)
        if handle is None:
            handle = _b64(secrets.token_bytes(32))
        challenge = await self._challenges.issue(
            db, "register", now=now, ttl=self._ttl, user_id=user_id, user_handle=handle
        )
        return self.ceremonies.registration_options(
            challenge=challenge,
            user_handle=handle,
            user_name=user_name,
            exclude=_credentials(passkeys),
        )

    async def consume_registration(
        self, db: AsyncSession, user_id: str, challenge: bytes, *, now: datetime
    ) -> str | None:
        """Use up the user's registration challenge; return its user handle, or None."""
        row = await self._challenges.consume(db, challenge, "register", now=now, user_id=user_id)
        return None if row is None else row.user_handle

    async def store(
        self,
        db: AsyncSession,
        user_id: str,
        credential: Any,
        challenge: bytes,
        *,
        user_handle: str,
        label: str | None,
        now: datetime,
    ) -> FactorRow:
        """Verify a parsed registration response and store the new passkey.

        Raises:
            InvalidCredentialsError: `passkey`: the response did not verify, or this
                credential is registered already.
        """
        new = self.ceremonies.verify_registration(credential, challenge)
        if await self._factors.by_credential(db, new.credential_key) is not None:
            raise _refused("This passkey is registered already.")
        return await self._factors.add_passkey(
            db,
            user_id,
            label=label,
            now=now,
            credential_key=new.credential_key,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            user_handle=user_handle,
            transports=new.transports,
            backup_eligible=new.backup_eligible,
        )

    # --- authentication ----------------------------------------------------------------
    def parse(self, credential: Credential) -> Assertion:
        """Parse an authentication response (no storage touched)."""
        return self.ceremonies.parse_authentication(credential)

    async def login_options(self, db: AsyncSession, *, now: datetime) -> dict[str, Any]:
        """Options for a passwordless sign-in: any discoverable credential, verified user."""
        challenge = await self._challenges.issue(db, "login", now=now, ttl=self._ttl)
        return self.ceremonies.authentication_options(
            challenge=challenge, allow=[], user_verification=True
        )

    async def mfa_options(
        self, db: AsyncSession, user_id: str, token_hash: str, *, now: datetime
    ) -> dict[str, Any]:
        """Options for the second step of *token_hash*'s sign-in: the user's passkeys.

        Raises:
            InvalidCredentialsError: `no_factor`: the user has no passkey.
        """
        passkeys = await self._factors.confirmed(db, user_id, "passkey")
        if not passkeys:
            raise _refused("This account has no passkey.", Reason.NO_FACTOR)
        challenge = await self._challenges.issue(
            db, "mfa", now=now, ttl=self._ttl, user_id=user_id, mfa_token_hash=token_hash
        )
        return self.ceremonies.authentication_options(
            challenge=challenge, allow=_credentials(passkeys), user_verification=False
        )

    async def consume(
        self,
        db: AsyncSession,
        assertion: Assertion,
        *,
        now: datetime,
        user_id: str | None = None,
        token_hash: str | None = None,
    ) -> bool:
        """Use up the challenge *assertion* answers (bound as given); return whether it was live."""
        purpose: Literal["login", "mfa"] = "login" if token_hash is None else "mfa"
        row = await self._challenges.consume(
            db, assertion.challenge, purpose, now=now, user_id=user_id, mfa_token_hash=token_hash
        )
        return row is not None

    async def find(
        self, db: AsyncSession, assertion: Assertion, *, user_id: str | None
    ) -> FactorRow:
        """Return the stored passkey *assertion* claims to come from.

        With *user_id* None (passwordless), the response must carry the user handle the
        passkey was created under (WebAuthn §7.2 step 6); otherwise the passkey must be
        that user's.

        Raises:
            InvalidCredentialsError: `passkey`: unknown credential, or another user's.
        """
        row = await self._factors.by_credential(db, assertion.credential_key)
        if row is None or row.public_key is None:
            raise _refused("The passkey was not accepted.")
        if user_id is not None and row.user_id != user_id:
            raise _refused("The passkey was not accepted.")
        if user_id is None and not _same(assertion.user_handle, row.user_handle):
            raise _refused("The passkey was not accepted.")
        return row

    async def verify(
        self,
        db: AsyncSession,
        assertion: Assertion,
        row: FactorRow,
        *,
        user_verification: bool,
        now: datetime,
    ) -> Method:
        """Verify *assertion* against passkey *row*, record the use; return its `amr` value.

        Raises:
            InvalidCredentialsError: `passkey` (bad signature, RP id, origin or flags),
                or `sign_count`: the signature counter did not move forward, a sign of a
                cloned authenticator; it is logged.
        """
        count, _verified = self.ceremonies.verify_authentication(
            assertion, public_key=row.public_key or "", user_verification=user_verification
        )
        if not await self._factors.accept_sign_count(db, row.id, count=count, now=now):
            logger.warning(
                "passkey %s of user %s: signature counter %d is not above the stored one; "
                "the authenticator may be cloned",
                row.id,
                row.user_id,
                count,
            )
            raise _refused("The passkey was not accepted.", Reason.SIGN_COUNT)
        return method_of(row)


def _credentials(rows: list[FactorRow]) -> list[tuple[str, list[str]]]:
    return [(r.credential_id, list(r.transports or [])) for r in rows if r.credential_id]


def _same(given: str | None, stored: str | None) -> bool:
    if not given or not stored:
        return False
    return hmac.compare_digest(given.encode(), stored.encode())


def _b64(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 §5), as WebAuthn JSON spells bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
