"""SignIn: the second step of a password sign-in (`mfa_token`, then a code or a passkey).

The sequence of `verify`, and why:

1. Read the token's row: unknown, used, expired or worn-out tokens are refused, and so
   is a token older than the user's last sign-out everywhere (logout-all, a password
   change, deactivation): ending every session also ends the sign-ins half done.
2. Check the user's failure limit (`mfa_rate_limit`, over all their tokens).
3. Commit one attempt on the token (and, for a passkey, spend its challenge) before
   checking the answer, so concurrent guesses cannot pass the five-attempt limit.
4. In one transaction: spend the token, check the sign-out mark again (it may have
   moved since step 1), accept the factor (each a conditional UPDATE), start the
   session. A wrong answer rolls it all back; the attempt stays counted.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem
from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager._core.users import user_is_active
from authmanager.exceptions import AuthError, InvalidCredentialsError, InvalidTokenError, Reason
from authmanager.hooks import EventName
from authmanager.mfa.challenges import MfaTokenRow, MfaTokenStore
from authmanager.mfa.factors import FactorStore
from authmanager.mfa.recovery import RecoveryCodes
from authmanager.mfa.rules import (
    MFA_SPACE,
    amr_of,
    answer_method,
    client_fields,
    hash_of,
    not_signed_out,
    usable,
    wrong_code,
)
from authmanager.mfa.types import (
    Credential,
    MfaChallenge,
    SessionStarter,
    SignOutMarks,
    UserSource,
)

if TYPE_CHECKING:
    from authmanager.mfa.passkey_factors import PasskeyFactors
    from authmanager.mfa.passkeys import Assertion
    from authmanager.mfa.totp_factors import TotpFactors

__all__ = ["SignIn"]

_KIND_ORDER = ("totp", "passkey")


class SignIn:
    """The `mfa_token` step of sign-in.

    Args:
        database: Transactions on the application's database.
        events: Where `mfa.*` and `recovery_code.used` go.
        limiter: Counts failed answers per user.
        rule: The limit (`mfa_rate_limit`), or None for none.
        users: The application's user loader (`get_user`).
        sessions: Starts the login session once the second factor passed.
        sign_outs: The users' sign-out-everywhere marks, which end pending tokens.
        token_ttl: Lifetime of an `mfa_token`.
        totp: TOTP factors, or None without encryption keys.
        passkeys: Passkeys, or None without an RP id.
    """

    def __init__(
        self,
        *,
        database: Database,
        events: HookDispatcher,
        limiter: RateLimiter,
        rule: RateLimitItem | None,
        users: UserSource,
        sessions: SessionStarter,
        sign_outs: SignOutMarks,
        token_ttl: timedelta,
        totp: TotpFactors | None,
        passkeys: PasskeyFactors | None,
    ) -> None:
        self._db = database
        self._events = events
        self._limiter = limiter
        self._rule = rule
        self._users = users
        self._sessions = sessions
        self._sign_outs = sign_outs
        self._ttl = token_ttl
        self._totp = totp
        self._passkeys = passkeys
        self._factors = FactorStore()
        self._codes = RecoveryCodes()
        self._tokens = MfaTokenStore()

    async def has_active_factor(self, user_id: str, *, session: AsyncSession | None = None) -> bool:
        """Return whether the user has a confirmed factor (one indexed probe, no transaction)."""
        async with self._db.connection(session) as db:
            return await self._factors.has_active(db, str(user_id))

    async def second_step(
        self,
        user: Any,
        *,
        first_amr: Sequence[str] = ("pwd",),
        client: ClientInfo | None = None,
        scopes: Collection[str] | None = None,
        session: AsyncSession | None = None,
    ) -> MfaChallenge | None:
        """The `/login` gate: None for a user without a factor, else a new challenge."""
        if not await self.has_active_factor(str(user.id), session=session):
            return None
        return await self.challenge(
            user, first_amr=first_amr, client=client, scopes=scopes, session=session
        )

    async def factor_kinds(self, user_id: str, *, session: AsyncSession | None = None) -> list[str]:
        """Return what the user can answer with: `totp`, `passkey`, `recovery_code`."""
        async with self._db.reading(session) as db:
            return await self._kinds(db, str(user_id))

    async def challenge(
        self,
        user: Any,
        *,
        first_amr: Sequence[str] = ("pwd",),
        client: ClientInfo | None = None,
        scopes: Collection[str] | None = None,
        session: AsyncSession | None = None,
    ) -> MfaChallenge:
        """Issue the `mfa_token` of a user whose first step (*first_amr*) just passed.

        *scopes*, the scopes the first step asked for, bound the session `verify` starts.
        """
        user_id = str(user.id)
        wanted = None if scopes is None else list(scopes)
        async with self._db.transaction(session) as db:
            kinds = await self._kinds(db, user_id)
            token = await self._tokens.issue(
                db, user_id, list(first_amr), now=utcnow(), ttl=self._ttl, scopes=wanted
            )
        self._events.emit(
            EventName.MFA_CHALLENGED,
            user_id=user_id,
            extra={"factors": ",".join(kinds)},
            **client_fields(client or ClientInfo()),
        )
        return MfaChallenge(token, kinds)

    async def passkey_options(self, mfa_token: str) -> dict[str, Any]:
        """Return WebAuthn request options for the passkeys of *mfa_token*'s user."""
        if self._passkeys is None:
            raise RuntimeError("Passkeys are off: set AUTH_WEBAUTHN_RP_ID.")
        token_hash = hash_of(mfa_token)
        now = utcnow()
        async with self._db.transaction() as db:
            row = await self._live(db, token_hash, now)
            return await self._passkeys.mfa_options(db, row.user_id, token_hash, now=now)

    async def verify(
        self,
        mfa_token: str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
        passkey: Credential | None = None,
        client: ClientInfo | None = None,
    ) -> TokenPair:
        """Check the second factor of *mfa_token*'s sign-in and start the session."""
        method = answer_method(code, recovery_code, passkey)
        client = client or ClientInfo()
        user_id: str | None = None
        try:
            token_hash = hash_of(mfa_token)
            assertion = None
            if passkey is not None:
                if self._passkeys is None:
                    raise InvalidCredentialsError(
                        "Passkeys are not enabled here.", reason=Reason.MFA_UNAVAILABLE
                    )
                assertion = self._passkeys.parse(passkey)
            now = utcnow()
            row = await self._attempt(token_hash, assertion, now)
            user_id = row.user_id
            pair, remaining = await self._finish(
                row, token_hash, code, recovery_code, assertion, client, now
            )
        except AuthError as exc:
            if isinstance(exc, InvalidCredentialsError) and user_id and self._rule is not None:
                await self._limiter.record(MFA_SPACE, user_id, self._rule)
            self._events.emit(
                EventName.MFA_FAILED,
                user_id=user_id,
                reason=str(exc.reason),
                extra={"method": method},
                **client_fields(client),
            )
            raise
        fields = {"user_id": user_id, "session_id": pair.session_id, **client_fields(client)}
        self._events.emit(EventName.MFA_SUCCEEDED, extra={"method": method}, **fields)
        if remaining is not None:
            self._events.emit(
                EventName.RECOVERY_CODE_USED, extra={"remaining": remaining}, **fields
            )
        return pair

    async def _attempt(
        self, token_hash: str, assertion: Assertion | None, now: datetime
    ) -> MfaTokenRow:
        """Steps 1 to 3: refuse a dead token, check the limit, count the attempt."""
        async with self._db.reading() as db:
            row = await self._live(db, token_hash, now)
        if self._rule is not None:
            await self._limiter.check(MFA_SPACE, row.user_id, self._rule)
        live_challenge = True
        async with self._db.transaction() as db:
            if not await self._tokens.reserve_attempt(db, token_hash, now=now):
                usable(await self._tokens.state(db, token_hash), now)  # raises why
                raise InvalidTokenError(reason=Reason.UNKNOWN_TOKEN)  # pragma: no cover
            if assertion is not None and self._passkeys is not None:
                live_challenge = await self._passkeys.consume(
                    db, assertion, now=now, user_id=row.user_id, token_hash=token_hash
                )
        if not live_challenge:
            raise InvalidCredentialsError(
                "The passkey challenge is unknown, used or expired; ask for new options.",
                reason=Reason.CHALLENGE,
            )
        return row

    async def _finish(
        self,
        row: MfaTokenRow,
        token_hash: str,
        code: str | None,
        recovery_code: str | None,
        assertion: Assertion | None,
        client: ClientInfo,
        now: datetime,
    ) -> tuple[TokenPair, int | None]:
        """Step 4; returns the pair and, after a recovery code, how many are left."""
        remaining: int | None = None
        async with self._db.transaction() as db:
            if not await self._tokens.consume(db, token_hash, now=now):
                raise InvalidTokenError(
                    "The mfa_token is unknown or used.", reason=Reason.UNKNOWN_TOKEN
                )
            not_signed_out(row, await self._sign_outs.revoked_before(db, row.user_id))
            user = await self._users.get_user(db, row.user_id)
            if user is None or not user_is_active(user):
                reason = Reason.USER_NOT_FOUND if user is None else Reason.USER_INACTIVE
                raise InvalidCredentialsError("This account cannot sign in.", reason=reason)
            if code is not None:
                if self._totp is None:
                    raise wrong_code()
                await self._totp.accept(db, row.user_id, code, now=now)
                method = "otp"
            elif recovery_code is not None:
                if not await self._codes.consume(db, row.user_id, recovery_code, now):
                    raise wrong_code()
                remaining = await self._codes.remaining(db, row.user_id)
                method = "otp"  # a single-use shared secret: RFC 8176's closest value
            else:
                if assertion is None or self._passkeys is None:
                    raise InvalidCredentialsError(reason=Reason.PASSKEY)  # pragma: no cover
                factor = await self._passkeys.find(db, assertion, user_id=row.user_id)
                method = await self._passkeys.verify(
                    db, assertion, factor, user_verification=False, now=now
                )
            # The sign-in ends here: `start` reports login.succeeded, naming the session.
            pair = await self._sessions.start(
                user,
                client=client,
                amr=amr_of(row.amr, method),
                fresh=True,
                scopes=row.scopes,
                session=db,
                announce=True,
            )
        return pair, remaining

    async def _live(self, db: AsyncSession, token_hash: str, now: datetime) -> MfaTokenRow:
        """Read the token's row; return it when it can take an attempt (see `_usable`)."""
        row = usable(await self._tokens.state(db, token_hash), now)
        not_signed_out(row, await self._sign_outs.revoked_before(db, row.user_id))
        return row

    async def _kinds(self, db: AsyncSession, user_id: str) -> list[str]:
        present = {row.kind for row in await self._factors.confirmed(db, user_id)}
        kinds: list[str] = [kind for kind in _KIND_ORDER if kind in present]
        if kinds and await self._codes.remaining(db, user_id):
            kinds.append("recovery_code")
        return kinds
