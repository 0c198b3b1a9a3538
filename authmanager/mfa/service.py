"""MfaService: second factors (TOTP, recovery codes, passkeys), one object for the manager.

It builds its parts from the settings and delegates each method to the part that owns
it: `Enrollment` (factor management), `SignIn` (the `mfa_token` step) and
`PasskeySignIn` (passwordless). TOTP needs `AUTH_MFA_ENCRYPTION_KEYS`, passkeys need
`AUTH_WEBAUTHN_RP_ID`; their libraries (the `mfa` extra) are imported only then.

The contract's methods are documented where applications call them, on `AuthManager`
(`authmanager._facade.mfa`); the docstrings here say what each part does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
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
from authmanager.mfa.factors import FactorStore
from authmanager.mfa.signin import SignIn
from authmanager.mfa.types import (
    Credential,
    FactorInfo,
    MfaChallenge,
    SessionStarter,
    SignOutMarks,
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

    Adding a factor, removing one and replacing recovery codes should follow a fresh
    login; the HTTP layer enforces that (`fresh_user`), these methods trust their caller.
    No event carries a secret, a code or a token.

    Args:
        settings: `mfa_*` and `webauthn_*` settings (and `production`).
        database: Transactions on the application's database.
        users: The application's user loader (`get_user`).
        sessions: Starts a login session once a second factor (or a passkey) passed.
        sign_outs: The users' sign-out-everywhere marks; a pending `mfa_token` older
            than its user's mark is refused.
        events: The hook dispatcher.
        limiter: Counts failed codes per user (`mfa_rate_limit`) and passwordless
            sign-ins begun per address (`webauthn_login_rate_limit`).

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
        sign_outs: SignOutMarks,
        events: HookDispatcher,
        limiter: RateLimiter,
    ) -> None:
        self._db = database
        self._factors = FactorStore()
        rule = limiter.rule(settings.mfa_rate_limit)
        totp = _totp(settings)
        passkeys = _passkeys(settings)
        #: Whether new TOTP enrollments are offered (`mfa_totp_enabled` and keys).
        self.totp_enabled = totp is not None and settings.mfa_totp_enabled
        #: Whether passkeys are on (`webauthn_rp_id` is set).
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
            sign_outs=sign_outs,
            token_ttl=timedelta(minutes=settings.mfa_token_expire_minutes),
            totp=totp,
            passkeys=passkeys,
        )
        self._passwordless: PasskeySignIn | None = None
        if passkeys is not None:
            from authmanager.mfa.passwordless import PasskeySignIn

            self._passwordless = PasskeySignIn(
                database=database,
                events=events,
                users=users,
                sessions=sessions,
                passkeys=passkeys,
                limiter=limiter,
                rule=limiter.rule(settings.webauthn_login_rate_limit),
            )

    # --- the /login gate -----------------------------------------------------------------
    async def has_active_factor(self, user_id: str, *, session: AsyncSession | None = None) -> bool:
        """Return whether the user must pass a second factor (one indexed probe)."""
        return await self._signin.has_active_factor(user_id, session=session)

    async def has_passkey(self, user_id: str, *, session: AsyncSession | None = None) -> bool:
        """Return whether the user holds a passkey, a way to sign in without a password.

        One indexed probe, no transaction: cheap enough for a check such as "may this
        user drop their last other way to sign in?".

        Raises:
            TokenStoreUnavailableError: the database could not be read.
        """
        async with self._db.connection(session) as db:
            return await self._factors.has_active(db, str(user_id), "passkey")

    async def second_step(
        self,
        user: Any,
        *,
        first_amr: Sequence[str] = ("pwd",),
        client: ClientInfo | None = None,
        scopes: Collection[str] | None = None,
        session: AsyncSession | None = None,
    ) -> MfaChallenge | None:
        """After a correct password: None without a factor, else a new `mfa_token`."""
        return await self._signin.second_step(
            user, first_amr=first_amr, client=client, scopes=scopes, session=session
        )

    async def factor_kinds(self, user_id: str, *, session: AsyncSession | None = None) -> list[str]:
        """Return the 403 body's `factors`: `"totp"`, `"passkey"`, `"recovery_code"`."""
        return await self._signin.factor_kinds(user_id, session=session)

    async def challenge(
        self,
        user: Any,
        *,
        first_amr: Sequence[str] = ("pwd",),
        client: ClientInfo | None = None,
        scopes: Collection[str] | None = None,
        session: AsyncSession | None = None,
    ) -> MfaChallenge:
        """Issue a single-use `mfa_token` for a user whose first step (*first_amr*) passed.

        The token lives `mfa_token_expire_minutes`, is stored hashed, is bound to the
        user and to *first_amr* (and the *scopes* it asked for), and takes at most 5
        answers. Event `mfa.challenged`.
        """
        return await self._signin.challenge(
            user, first_amr=first_amr, client=client, scopes=scopes, session=session
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
        """Check the second factor of a sign-in and start its session (fresh, amr + mfa)."""
        return await self._signin.verify(
            mfa_token, code=code, recovery_code=recovery_code, passkey=passkey, client=client
        )

    async def passkey_options(self, mfa_token: str) -> dict[str, Any]:
        """Return WebAuthn request options for the token's user (replacing earlier ones)."""
        return await self._signin.passkey_options(mfa_token)

    # --- passwordless --------------------------------------------------------------------
    async def passkey_login_options(self, *, client: ClientInfo | None = None) -> dict[str, Any]:
        """Return WebAuthn request options for a passwordless sign-in (any passkey here)."""
        return await self._require_passwordless().options(client=client)

    async def login_with_passkey(
        self, credential: Credential, *, client: ClientInfo | None = None
    ) -> TokenPair:
        """Sign in with a discoverable passkey alone; the authenticator must verify the user."""
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
        """Start a TOTP enrollment; it stays inactive until `confirm_totp`."""
        return await self._enrollment.begin_totp(user, label=label, name=name, session=session)

    async def confirm_totp(
        self, user: Any, factor_id: str, code: str, *, session: AsyncSession | None = None
    ) -> list[str]:
        """Activate the pending enrollment; ten recovery codes when the user has none left."""
        return await self._enrollment.confirm_totp(user, factor_id, code, session=session)

    async def passkey_registration_options(
        self, user: Any, *, name: str | None = None, session: AsyncSession | None = None
    ) -> dict[str, Any]:
        """Return `navigator.credentials.create()` options for a discoverable passkey."""
        return await self._enrollment.passkey_registration_options(user, name=name, session=session)

    async def register_passkey(
        self,
        user: Any,
        credential: Credential,
        *,
        label: str | None = None,
        session: AsyncSession | None = None,
    ) -> FactorInfo:
        """Verify the browser's registration response and store the passkey."""
        return await self._enrollment.register_passkey(
            user, credential, label=label, session=session
        )

    async def list_factors(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[FactorInfo]:
        """Return the user's confirmed factors, oldest first."""
        return await self._enrollment.list_factors(user_id, session=session)

    async def rename_factor(
        self, user: Any, factor_id: str, label: str | None, *, session: AsyncSession | None = None
    ) -> bool:
        """Set the label of the user's factor; False when the user has no such factor."""
        return await self._enrollment.rename_factor(user, factor_id, label, session=session)

    async def remove_factor(
        self, user: Any, factor_id: str, *, session: AsyncSession | None = None
    ) -> bool:
        """Delete the user's factor (False when there is none); the last takes the codes too."""
        return await self._enrollment.remove_factor(user, factor_id, session=session)

    async def new_recovery_codes(
        self, user: Any, *, session: AsyncSession | None = None
    ) -> list[str]:
        """Replace the user's recovery codes with ten new ones, to show once."""
        return await self._enrollment.new_recovery_codes(user, session=session)

    # --- operations ----------------------------------------------------------------------
    async def rotate_secrets(self, *, session: AsyncSession | None = None) -> int:
        """Re-encrypt TOTP secrets under the first key; return how many were."""
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
