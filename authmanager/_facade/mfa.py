"""`AuthManager` methods: second factors (TOTP, recovery codes, passkeys)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.mfa import Credential, FactorInfo, MfaChallenge, MfaService, TotpEnrollment

__all__ = ["MfaMethods"]

UserT = TypeVar("UserT")
#: WebAuthn options as JSON (`PublicKeyCredentialCreationOptions` / `RequestOptions`).
WebAuthnOptions = dict[str, Any]


class MfaMethods(Generic[UserT]):
    """Second factors of the application's users, in authmanager's own tables.

    The routes that add a factor, remove one or replace recovery codes need a fresh
    login (`fresh_user`); these methods trust their caller, who should do the same.
    No event carries a secret, a code or a token.
    """

    _mfa: MfaService

    async def create_mfa_challenge(
        self,
        user: UserT,
        *,
        client: ClientInfo | None = None,
        scopes: Collection[str] | None = None,
    ) -> MfaChallenge | None:
        """After a correct password: None for a user without a factor, else a new challenge.

        What `/login` does before issuing tokens, for a login route of your own: with a
        challenge, answer `raise MfaRequiredError(challenge)` (`authmanager.mfa`; with
        `install_exception_handlers(app)` it becomes the same 403 `mfa_required`) and
        let the client finish at `/mfa/verify`. The `mfa_token` is single use, lives
        `mfa_token_expire_minutes`, takes at most 5 answers and dies with the user's
        next sign-out everywhere. *scopes* (the OAuth 2.0 `scope` the login asked for)
        bound the session `/mfa/verify` starts, as `/login` bounds its own. Event
        `mfa.challenged`.

        Raises:
            TokenStoreUnavailableError: the database could not be reached.
        """
        return await self._mfa.second_step(user, client=client, scopes=scopes)

    async def begin_totp(
        self,
        user: UserT,
        *,
        label: str | None = None,
        name: str | None = None,
        session: AsyncSession | None = None,
    ) -> TotpEnrollment:
        """Start a TOTP (RFC 6238) enrollment; it stays inactive until `confirm_totp`.

        The secret is encrypted at rest with `AUTH_MFA_ENCRYPTION_KEYS`. Show the
        enrollment's `qr_svg` (or `otpauth_uri`, or `secret`) once, to the user who
        asked. *name* is the account name authenticator apps show (default: the user's
        `email`, `username` or `login`, else the id). An earlier unconfirmed enrollment
        of the user is replaced; one not confirmed within 15 minutes expires.

        Example:
            ```python
            enrollment = await auth.begin_totp(user, label="Phone")
            # show enrollment.qr_svg; then, with the app's first code:
            recovery_codes = await auth.confirm_totp(user, enrollment.factor_id, code)
            ```

        Raises:
            RuntimeError: TOTP is off (`AUTH_MFA_TOTP_ENABLED`, `AUTH_MFA_ENCRYPTION_KEYS`).
            ValueError: the label is longer than 100 characters or has control characters.
            AuthError: reason `too_many_factors`, the user holds 20 already.
            TokenStoreUnavailableError: nothing was stored.
        """
        return await self._mfa.begin_totp(user, label=label, name=name, session=session)

    async def confirm_totp(
        self, user: UserT, factor_id: str, code: str, *, session: AsyncSession | None = None
    ) -> list[str]:
        """Activate the user's pending TOTP enrollment with a code from the app.

        Returns ten recovery codes to show once (stored hashed, each works once), or an
        empty list when the user holds unused ones already: those stay valid. The
        code's time step counts as used. Event `factor.added`.

        Raises:
            InvalidCredentialsError: reason `unknown_factor` (no such pending
                enrollment) or `wrong_code`; nothing changed.
            RateLimitExceededError: too many wrong codes for this user (`mfa_rate_limit`).
            RuntimeError: no `AUTH_MFA_ENCRYPTION_KEYS`.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._mfa.confirm_totp(user, factor_id, code, session=session)

    async def list_factors(
        self, user_id: str, *, session: AsyncSession | None = None
    ) -> list[FactorInfo]:
        """Return the user's confirmed factors (`totp`, `passkey`), oldest first.

        Raises:
            TokenStoreUnavailableError: the database could not be read.
        """
        return await self._mfa.list_factors(str(user_id), session=session)

    async def rename_factor(
        self, user: UserT, factor_id: str, label: str | None, *, session: AsyncSession | None = None
    ) -> bool:
        """Set the label of the user's factor; False when the user has no such factor.

        Raises:
            ValueError: the label is longer than 100 characters or has control characters.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._mfa.rename_factor(user, factor_id, label, session=session)

    async def remove_factor(
        self, user: UserT, factor_id: str, *, session: AsyncSession | None = None
    ) -> bool:
        """Delete the user's factor; False when the user has no factor with this id.

        Removing the last factor deletes the recovery codes too: the user signs in with
        the password alone again. Event `factor.removed` (`extra["last"]` says which).

        Raises:
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._mfa.remove_factor(user, factor_id, session=session)

    async def new_recovery_codes(
        self, user: UserT, *, session: AsyncSession | None = None
    ) -> list[str]:
        """Replace the user's recovery codes with ten new ones, to show once.

        The old codes stop working. Event `factor.added` (`extra["kind"]` is
        `recovery_codes`; no code in it).

        Raises:
            InvalidCredentialsError: reason `no_factor`: the user has no second factor.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._mfa.new_recovery_codes(user, session=session)

    async def passkey_registration_options(
        self, user: UserT, *, session: AsyncSession | None = None
    ) -> WebAuthnOptions:
        """Return `navigator.credentials.create()` options for a new passkey of *user*.

        A discoverable credential (so it can sign in without a login name) for
        `AUTH_WEBAUTHN_RP_ID`; the user's passkeys are excluded; the challenge is kept
        server-side, hashed, single use, for `webauthn_challenge_expire_seconds`.

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            AuthError: reason `too_many_factors`, the user holds 20 already.
            TokenStoreUnavailableError: the challenge could not be stored.
        """
        return await self._mfa.passkey_registration_options(user, session=session)

    async def register_passkey(
        self,
        user: UserT,
        credential: Credential,
        *,
        label: str | None = None,
        session: AsyncSession | None = None,
    ) -> FactorInfo:
        """Verify the browser's registration response (`PublicKeyCredential.toJSON()`).

        The response must answer the user's live registration challenge, from one of
        `AUTH_WEBAUTHN_ORIGINS`, for the RP id; only the public key and the signature
        counter are kept (no attestation policy: any authenticator is accepted).
        Event `factor.added`.

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            ValueError: the label is longer than 100 characters or has control characters.
            InvalidCredentialsError: reason `challenge` (not started, spent or expired)
                or `passkey` (the response did not verify, or is registered already).
            AuthError: reason `too_many_factors`.
            TokenStoreUnavailableError: nothing was stored.
        """
        return await self._mfa.register_passkey(user, credential, label=label, session=session)

    async def passkey_login_options(self, *, client: ClientInfo | None = None) -> WebAuthnOptions:
        """Return `navigator.credentials.get()` options for a passwordless sign-in.

        Any discoverable credential of this RP may answer, and it must verify its user.
        Each call stores a challenge, so calls are limited per client address
        (`webauthn_login_rate_limit`).

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            RateLimitExceededError: too many from this address.
            TokenStoreUnavailableError: the challenge could not be stored.
        """
        return await self._mfa.passkey_login_options(client=client)

    async def login_with_passkey(
        self, credential: Credential, *, client: ClientInfo | None = None
    ) -> TokenPair:
        """Sign in with a passkey alone: start a fresh session for the passkey's user.

        The assertion must answer a live challenge of `passkey_login_options`, verify
        the user (UV flag), and move the signature counter forward (a counter that goes
        backwards is refused and logged: a cloned authenticator). The session's `amr`
        is `["hwk", "mfa"]`, or `["swk", "mfa"]` for a synced passkey. Events
        `login.succeeded` or `login.failed` (`extra["method"] == "passkey"`).

        Raises:
            RuntimeError: passkeys are off (no `AUTH_WEBAUTHN_RP_ID`).
            InvalidCredentialsError: a malformed or unverified response, an unknown
                credential, a spent challenge, a counter regression (`sign_count`), or
                a user who may not sign in.
            TokenStoreUnavailableError: nothing was accepted.
        """
        return await self._mfa.login_with_passkey(credential, client=client)

    async def reencrypt_totp_secrets(self, *, session: AsyncSession | None = None) -> int:
        """Re-encrypt every TOTP secret under the first `AUTH_MFA_ENCRYPTION_KEYS` key.

        Rotation: put a new key first, keep the old ones after it, run this, then drop
        the old keys. Returns how many secrets were re-encrypted.

        Raises:
            TokenStoreUnavailableError: a secret no configured key opens, or the
                database failed; nothing was changed.
        """
        return await self._mfa.rotate_secrets(session=session)
