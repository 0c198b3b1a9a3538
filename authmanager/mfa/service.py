"""MfaService: second factors (TOTP, recovery codes, passkeys), one object for the manager.

It builds its parts from the settings and delegates each method to the part that owns
it: `Enrollment` (factor management), `SignIn` (the `mfa_token` step) and
`PasskeySignIn` (passwordless). TOTP needs `AUTH_MFA_ENCRYPTION_KEYS`, passkeys need
`AUTH_WEBAUTHN_RP_ID`; their libraries (the `mfa` extra) are imported only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.settings import AuthSettings
from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.mfa.challenges import ChallengeStore, MfaTokenStore
from authmanager.mfa.crypto import SecretBox
from authmanager.mfa.enrollment import Enrollment
from authmanager.mfa.signin import SignIn
from authmanager.mfa.types import (
    Credential,
    FactorInfo,
    MfaChallenge,
    SessionStarter,
    TotpEnrollment,
    UserSource,
)

if TYPE_CHECKING:
    from authmanager.mfa.passkey_factors import PasskeyFactors
    from authmanager.mfa.passwordless import PasskeySignIn
    from authmanager.mfa.totp_factors import TotpFactors

__all__ = ["MfaService"]


def _totp(settings: AuthSettings) -> TotpFactors | None:
    if not settings.mfa_encryption_keys:
        return None
    from authmanager.mfa.totp_factors import TotpFactors  # needs the `mfa` extra

    box = SecretBox(settings.mfa_encryption_keys)
    return TotpFactors(box=box, issuer=settings.effective_totp_issuer)


def _passkeys(settings: AuthSettings) -> PasskeyFactors | None:
    if settings.webauthn_rp_id is None:
        return None
    from authmanager.mfa.passkey_factors import PasskeyFactors  # needs the `mfa` extra
    from authmanager.mfa.passkeys import Ceremonies

    ceremonies = Ceremonies(
        rp_id=settings.webauthn_rp_id,
        rp_name=settings.effective_webauthn_rp_name,
        origins=settings.effective_webauthn_origins,
        timeout_seconds=settings.webauthn_challenge_expire_seconds,
    )
    ttl = timedelta(seconds=settings.webauthn_challenge_expire_seconds)
    return PasskeyFactors(ceremonies=ceremonies, challenge_ttl=ttl)


class MfaService:
    """Second factors of the application's users, kept in authmanager's own tables.

    Adding a factor, removing one and replacing recovery codes should require a fresh
    login; the HTTP layer enforces that (`fresh_user`), these methods trust their caller.
    No event carries a secret, a code or a token.

    Args:
        settings: `mfa_*` and `webauthn_*` settings (and `production`).
        database: Transactions on the application's database.
        users: The application's user loader (`get_user`).
        sessions: Starts a login session once a second factor (or a passkey) passed.
        events: The hook dispatcher.
        limiter: Counts failed codes per user (`mfa_rate_limit`).

    Raises:
        ImportError: TOTP keys or an RP id are set but the `mfa` extra is missing.
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        database: Database,
        users: UserSource,
        sessions: SessionStarter,
        events: HookDispatcher,
        limiter: RateLimiter,
    ) -> None:
        self._db = database
        rule = limiter.rule(settings.mfa_rate_limit)
        totp = _totp(settings)
        passkeys = _passkeys(settings)
        self.totp_enabled = totp is not None and settings.mfa_totp_enabled
        self.passkeys_enabled = passkeys is not None
        self._enrollment = Enrollment(
            database=database,
            events=events,
            limiter=limiter,
            rule=rule,
            totp=totp,
            passkeys=passkeys,
            totp_enabled=settings.mfa_totp_enabled,
        )
        self._signin = SignIn(
            database=database,
            events=events,
            limiter=limiter,
            rule=rule,
            users=users,
            sessions=sessions,
            token_ttl=timedelta(minutes=settings.mfa_token_expire_minutes),
            totp=totp,
            passkeys=passkeys,
        )
        self._passwordless: PasskeySignIn | None = None
        if passkeys is not None:
            from authmanager.mfa.passwordless import PasskeySignIn

            self._passwordless = PasskeySignIn(
                database=database, events=events, users=users, sessions=sessions, passkeys=passkeys
            )

    # --- the /login gate -----------------------------------------------------------------
    async def has_active_factor(self, user_id: str, *, session: AsyncSession | None = None) -> bool:
        """Return whether the user must pass a second factor (one indexed probe, for `/login`).

        Raises:
            TokenStoreUnavailableError: the database could not be read.
        """
        return await self._signin.has_active_factor(user_id, session=session)

    async def factor_kinds(self, user_id: str, *, session: AsyncSession | None = None) -> list[str]:
        """Return the 403 body's `factors`: `"totp"`, `"passkey"`, `"recovery_code"` when present.

        Raises:
            TokenStoreUnavailableError: the database could not be read.
        """
        return await self._signin.factor_kinds(user_id, session=session)

    async def challenge(
        self,
        user: Any,
        *,
        first_amr: Sequence[str] = ("pwd",),
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> MfaChallenge:
        """Issue a single-use `mfa_token` for a user whose password (*first_amr*) just passed.

        The token lives `mfa_token_expire_minutes`, is stored hashed, is bound to the
        user and to *first_amr*, and takes at most 5 answers. Event `mfa.challenged`.
        With no factor left (removed meanwhile), `factors` is empty and the token
        cannot be answered: the sign-in fails closed.

        Example:
            ```python
            if await mfa.has_active_factor(user.id):
                mfa_token, factors = await mfa.challenge(user, client=client)
                # 403 {"error": "mfa_required", "mfa_token": ..., "factors": factors}
            ```

        Raises:
            TokenStoreUnavailableError: nothing was issued.
        """
        return await self._signin.challenge(
            user, first_amr=first_amr, client=client, session=session
        )

    async def verify(
        self,
        mfa_token: str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
        passkey: Credential | None = None,
        client: ClientInfo | None = None,
    ) -> TokenPair:
        """Check the second factor of a sign-in and start its session.

        Give exactly one of a TOTP *code*, a *recovery_code* or a *passkey* assertion
        (from `passkey_options`). The session's `amr` is the first step's methods plus
        `"otp"` (TOTP or recovery code) or `"hwk"`/`"swk"` (passkey), and `"mfa"`; its
        access token is fresh. Each code and the token work once, even concurrently.
        Events: `mfa.succeeded` (and `recovery_code.used`), or `mfa.failed`.

        Raises:
            ValueError: none, or more than one, of the three answers was given.
            InvalidTokenError: the token is malformed, unknown, used, or took 5 answers
                (`reason` `too_many_attempts`).
            ExpiredTokenError: the token has expired.
            InvalidCredentialsError: a wrong or replayed code, a passkey that did not
                verify, a spent challenge, or a user who may no longer sign in.
            RateLimitExceededError: the user failed `mfa_rate_limit` times.
            TokenStoreUnavailableError: nothing was accepted.
        """
        return await self._signin.verify(
            mfa_token, code=code, recovery_code=recovery_code, passkey=passkey, client=client
        )

    async def passkey_options(self, mfa_token: str) -> dict[str, Any]:
        """Return WebAuthn request options for the token's user (replacing earlier ones).

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            InvalidTokenError: the token is malformed, unknown, used or worn out.
            ExpiredTokenError: the token has expired.
            InvalidCredentialsError: the user has no passkey (`unknown_factor`).
            TokenStoreUnavailableError: the database could not be reached.
        """
        return await self._signin.passkey_options(mfa_token)

    # --- passwordless --------------------------------------------------------------------
    async def passkey_login_options(self) -> dict[str, Any]:
        """Return WebAuthn request options for a passwordless sign-in (any passkey here).

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            TokenStoreUnavailableError: the challenge could not be stored.
        """
        return await self._require_passwordless().options()

    async def login_with_passkey(
        self, credential: Credential, *, client: ClientInfo | None = None
    ) -> TokenPair:
        """Sign in with a discoverable passkey alone; the authenticator must verify the user.

        The session's `amr` is `["hwk", "mfa"]` (device-bound key) or `["swk", "mfa"]`
        (synced passkey). A signature counter that goes backwards is refused and logged.
        Events: `login.succeeded` or `login.failed`, with `extra["method"] == "passkey"`.

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            InvalidCredentialsError: malformed or unverified response, unknown
                credential, spent challenge, `sign_count` regression, or a user who may
                not sign in.
            TokenStoreUnavailableError: nothing was accepted.
        """
        return await self._require_passwordless().login(credential, client=client)

    # --- enrollment ----------------------------------------------------------------------
    async def begin_totp(
        self,
        user: Any,
        *,
        label: str | None = None,
        name: str | None = None,
        session: AsyncSession | None = None,
    ) -> TotpEnrollment:
        """Start a TOTP enrollment; it stays inactive until `confirm_totp`.

        *name* is the account name authenticator apps show (default: the user's
        `email`, `username` or `login`, else the id). An earlier unconfirmed enrollment
        of the user is replaced; one not confirmed within 15 minutes expires.

        Raises:
            RuntimeError: TOTP is off (`mfa_totp_enabled` false).
            ValueError: a bad label, or the user holds 20 factors already.
            TokenStoreUnavailableError: nothing was stored.
        """
        return await self._enrollment.begin_totp(user, label=label, name=name, session=session)

    async def confirm_totp(
        self, user: Any, factor_id: str, code: str, *, session: AsyncSession | None = None
    ) -> list[str]:
        """Activate the user's pending enrollment with a code from the app.

        Returns ten new recovery codes to show once, or an empty list when the user
        already holds unused ones (they stay valid). Event `factor.added`.

        Raises:
            InvalidCredentialsError: `unknown_factor` (no such pending enrollment) or
                `wrong_code`; nothing changed.
            RateLimitExceededError: too many wrong confirmations (`mfa_rate_limit`).
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._enrollment.confirm_totp(user, factor_id, code, session=session)

    async def passkey_registration_options(
        self, user: Any, *, name: str | None = None, session: AsyncSession | None = None
    ) -> dict[str, Any]:
        """Return `navigator.credentials.create()` options for a discoverable passkey.

        The user's existing passkeys are excluded; the challenge is single use.

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            ValueError: the user holds 20 factors already.
            TokenStoreUnavailableError: the challenge could not be stored.
        """
        return await self._enrollment.passkey_registration_options(user, name=name, session=session)

    async def register_passkey(
        self,
        user: Any,
        credential: Credential,
        *,
        label: str | None = None,
        session: AsyncSession | None = None,
    ) -> FactorInfo:
        """Verify the browser's registration response and store the passkey (`factor.added`).

        No recovery codes come with it: call `new_recovery_codes` when the user has none.

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            ValueError: a bad label, or the user holds 20 factors already.
            InvalidCredentialsError: `challenge` (not started, spent or expired) or
                `passkey` (the response did not verify, or is registered already).
            TokenStoreUnavailableError: nothing was stored.
        """
        return await self._enrollment.register_passkey(
            user, credential, label=label, session=session
        )

    async def list_factors(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[FactorInfo]:
        """Return the user's confirmed factors, oldest first.

        Raises:
            TokenStoreUnavailableError: the database could not be read.
        """
        return await self._enrollment.list_factors(user_id, session=session)

    async def rename_factor(
        self, user: Any, factor_id: str, label: str | None, *, session: AsyncSession | None = None
    ) -> bool:
        """Set the label of the user's factor; False when the user has no such factor.

        Raises:
            ValueError: the label is longer than 100 characters or has control characters.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._enrollment.rename_factor(user, factor_id, label, session=session)

    async def remove_factor(
        self, user: Any, factor_id: str, *, session: AsyncSession | None = None
    ) -> bool:
        """Delete the user's factor (False when there is none); the last takes the codes too.

        Event `factor.removed` (`extra["last"]`).

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._enrollment.remove_factor(user, factor_id, session=session)

    async def new_recovery_codes(
        self, user: Any, *, session: AsyncSession | None = None
    ) -> list[str]:
        """Replace the user's recovery codes with ten new ones, to show once (`factor.added`).

        Raises:
            InvalidCredentialsError: the user has no factor (`unknown_factor`).
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._enrollment.new_recovery_codes(user, session=session)

    # --- operations ----------------------------------------------------------------------
    async def rotate_secrets(self, *, session: AsyncSession | None = None) -> int:
        """Re-encrypt TOTP secrets under the first key; return how many were.

        Run it after putting a new key first in `AUTH_MFA_ENCRYPTION_KEYS`; then drop
        the old keys.

        Raises:
            TokenStoreUnavailableError: a secret no key opens, or the database failed;
                nothing was changed.
        """
        return await self._enrollment.rotate_secrets(session=session)

    async def purge_expired(self, *, session: AsyncSession | None = None) -> int:
        """Delete `mfa_token`s and WebAuthn challenges past expiry; return the count.

        Raises:
            TokenStoreUnavailableError: nothing was deleted.
        """
        now = utcnow()
        async with self._db.transaction(session) as db:
            count = await MfaTokenStore().purge(db, now=now)
            return count + await ChallengeStore().purge(db, now=now)

    def _require_passwordless(self) -> PasskeySignIn:
        if self._passwordless is None:
            raise RuntimeError("Passkeys are off: set AUTH_WEBAUTHN_RP_ID.")
        return self._passwordless
