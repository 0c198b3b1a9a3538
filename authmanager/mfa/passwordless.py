"""PasskeySignIn: passwordless sign-in with a discoverable credential (a passkey alone).

The authenticator must verify the user (PIN or biometric, the UV flag): possession of
the key plus that local check are two factors, so the session's `amr` is
`["hwk", "mfa"]` or `["swk", "mfa"]` (RFC 8176 §2: "mfa" may accompany the methods
used). Which local check ran is not reported, so neither "pin" nor "fpt" is claimed.
"""

from __future__ import annotations

from typing import Any

from limits import RateLimitItem

from authmanager._core.clock import utcnow
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager._core.users import user_is_active
from authmanager.exceptions import AuthError, InvalidCredentialsError, Reason
from authmanager.hooks import EventName
from authmanager.mfa.passkey_factors import PasskeyFactors
from authmanager.mfa.rules import client_fields
from authmanager.mfa.types import Credential, SessionStarter, UserSource

__all__ = ["OPTIONS_SPACE", "PasskeySignIn"]

#: Rate-limit key space of passwordless sign-ins begun, per client address.
OPTIONS_SPACE = "passkey-options-ip"


class PasskeySignIn:
    """Passwordless sign-in with passkeys.

    Args:
        database: Transactions on the application's database.
        events: Where `login.succeeded` and `login.failed` go (`extra["method"]` is
            `"passkey"`).
        users: The application's user loader (`get_user`).
        sessions: Starts the login session.
        passkeys: The stored passkeys and the RP's ceremonies.
        limiter: Counts the sign-ins begun per client address.
        rule: That limit (`webauthn_login_rate_limit`), or None for none.
    """

    def __init__(
        self,
        *,
        database: Database,
        events: HookDispatcher,
        users: UserSource,
        sessions: SessionStarter,
        passkeys: PasskeyFactors,
        limiter: RateLimiter,
        rule: RateLimitItem | None,
    ) -> None:
        self._db = database
        self._events = events
        self._users = users
        self._sessions = sessions
        self._passkeys = passkeys
        self._limiter = limiter
        self._rule = rule

    async def options(self, *, client: ClientInfo | None = None) -> dict[str, Any]:
        """Return WebAuthn request options for any discoverable credential of this site.

        Anyone may ask, and each answer stores a challenge: the calls are counted per
        client address (`webauthn_login_rate_limit`).
        """
        address = (client or ClientInfo()).ip_address
        if self._rule is not None and address:
            await self._limiter.hit(OPTIONS_SPACE, address, self._rule)
        async with self._db.transaction() as db:
            return await self._passkeys.login_options(db, now=utcnow())

    async def login(self, credential: Credential, *, client: ClientInfo | None = None) -> TokenPair:
        """Verify a passkey assertion and start a session for its user."""
        client = client or ClientInfo()
        user_id: str | None = None
        try:
            assertion = self._passkeys.parse(credential)
            now = utcnow()
            # Its own transaction: the challenge is spent even when the assertion fails.
            async with self._db.transaction() as db:
                live = await self._passkeys.consume(db, assertion, now=now)
            if not live:
                raise InvalidCredentialsError(
                    "The passkey challenge is unknown, used or expired; ask for new options.",
                    reason=Reason.CHALLENGE,
                )
            async with self._db.transaction() as db:
                factor = await self._passkeys.find(db, assertion, user_id=None)
                user_id = factor.user_id
                method = await self._passkeys.verify(
                    db, assertion, factor, user_verification=True, now=now
                )
                user = await self._users.get_user(db, factor.user_id)
                if user is None or not user_is_active(user):
                    reason = Reason.USER_NOT_FOUND if user is None else Reason.USER_INACTIVE
                    raise InvalidCredentialsError("This account cannot sign in.", reason=reason)
                pair = await self._sessions.start(
                    user, client=client, amr=[method, "mfa"], fresh=True, session=db
                )
        except AuthError as exc:
            self._events.emit(
                EventName.LOGIN_FAILED,
                user_id=user_id,
                reason=str(exc.reason),
                extra={"method": "passkey"},
                **client_fields(client),
            )
            raise
        self._events.emit(
            EventName.LOGIN_SUCCEEDED,
            user_id=user_id,
            session_id=pair.session_id,
            extra={"method": "passkey"},
            **client_fields(client),
        )
        return pair
