"""Anonymous flows by login: password reset and sign-in links."""

from __future__ import annotations

from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.accounts._kit import NO_CLIENT, AccountKit, client_fields, user_id_of
from authmanager.accounts._messages import Purpose
from authmanager.accounts._policy import is_verified
from authmanager.accounts._ports import SessionRevoker, SessionStarter
from authmanager.exceptions import Reason
from authmanager.hooks import EventName

__all__ = ["LOGIN_LINK_AMR", "Recovery"]

UserT = TypeVar("UserT")

LOGIN_LINK_AMR = ("email",)
"""The `amr` of a session started by a sign-in link.

RFC 8176 registers no value for a secret sent by email. `otp` would be wrong: it
names one-time-password generators (RFC 4226, RFC 6238), and a relying party (or
`require_mfa`) reading `otp` would take a mailbox for a TOTP device. The registry's
own pattern for a confirmation over an out-of-band channel is to name the channel
(`sms`, `tel`), and RFC 8176 leaves values outside the registry to agreement between
the parties: `email` follows that pattern and cannot be mistaken for another factor.
"""


class Recovery(Generic[UserT]):
    """`request_password_reset`/`reset_password` and `request_login_link`/`login_with_link`.

    The requests name an account by its login and are anonymous: each looks the login
    up whether or not it exists and leaves the token and the message to the
    background, so the answer and its timing are the same for an unknown login.

    Args:
        kit: The shared collaborators and steps of the account flows.
        sessions: Starts the session of a sign-in link.
        revoker: Ends every session of a user after a password reset.
    """

    def __init__(
        self, *, kit: AccountKit[UserT], sessions: SessionStarter, revoker: SessionRevoker
    ) -> None:
        self._kit = kit
        self._sessions = sessions
        self._revoker = revoker

    async def request_password_reset(
        self, login: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> None:
        """Send a `reset_password` link when *login* is an active account; nothing otherwise.

        Raises:
            InvalidAddressError: *login* is empty, over-long or not printable.
            MissingLoaderMethodError: the loader has no `set_password_hash`.
            RateLimitExceededError: too many requests from this IP or for this login.
            TokenStoreUnavailableError: the database or the rate-limit storage is down.
        """
        kit = self._kit
        kit.method("set_password_hash")  # before the look-up: the same answer for any login
        client = client or NO_CLIENT
        user, address = await kit.find_active(login, client, session)
        if user is None:
            kit.events.emit(
                EventName.PASSWORD_RESET_REQUESTED,
                reason=Reason.USER_NOT_FOUND,
                **client_fields(client),
            )
            return
        user_id = user_id_of(user)
        kit.events.emit(
            EventName.PASSWORD_RESET_REQUESTED, user_id=user_id, **client_fields(client)
        )
        kit.mailer.send_link(Purpose.RESET_PASSWORD, user_id=user_id, to=address, client=client)

    async def reset_password(
        self,
        token: str,
        new_password: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> int:
        """Set a new password with a `reset_password` token; end every session of the user.

        The token is checked before the password is hashed (a bad token costs no
        hash), then consumed in the one transaction that stores the hash, ends the
        user's other reset tokens and every session. Returns the count of tokens revoked.

        Raises:
            PasswordPolicyError: the password breaks the policy; the token still works.
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or an address changed since the link was sent.
            ExpiredTokenError: the token expired.
            MissingLoaderMethodError: the loader has no `set_password_hash`.
            TokenStoreUnavailableError: nothing was changed.
        """
        kit = self._kit
        set_hash = kit.method("set_password_hash")
        kit.policy.check(new_password)
        async with kit.token_step(client):
            await kit.tokens.peek(token, Purpose.RESET_PASSWORD, session=session)
        new_hash = await kit.hasher.hash_async(new_password)
        async with kit.token_step(client) as step, kit.db.transaction(session) as db:
            action = await kit.tokens.consume(token, Purpose.RESET_PASSWORD, session=db)
            user = await kit.account(db, action)
            await set_hash(db, user, new_hash)
            await kit.tokens.revoke_user(action.user_id, [Purpose.RESET_PASSWORD], session=db)
            count = await self._revoker.revoke_user(
                action.user_id, reason="password_reset", session=db
            )
        kit.events.emit(
            EventName.PASSWORD_RESET, user_id=action.user_id, extra={"revoked": count}, **step
        )
        return count

    async def request_login_link(
        self, login: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> None:
        """Send a `login_link` when *login* is an active account; nothing otherwise.

        Raises:
            InvalidAddressError: *login* is empty, over-long or not printable.
            RateLimitExceededError: too many requests from this IP or for this login.
            TokenStoreUnavailableError: the database or the rate-limit storage is down.
        """
        client = client or NO_CLIENT
        user, address = await self._kit.find_active(login, client, session)
        if user is not None:
            self._kit.mailer.send_link(
                Purpose.LOGIN_LINK,
                user_id=user_id_of(user),
                to=address,
                client=client,
                sent=EventName.LOGIN_LINK_SENT,
            )

    async def login_with_link(
        self, token: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> TokenPair:
        """Start a session with a `login_link` token; its tokens' `amr` is `LOGIN_LINK_AMR`.

        The link reached the user's mailbox, so an unverified user is marked verified
        (when the loader has `set_verified`) before the login rules apply. The session
        is fresh: the proof is the mailbox, the one a password reset relies on too.

        Raises:
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or an address changed since the link was sent.
            ExpiredTokenError: the token expired.
            EmailNotVerifiedError: verification is required and cannot be recorded.
            TokenStoreUnavailableError: nothing was changed, no session started.
        """
        kit = self._kit
        client = client or NO_CLIENT
        set_verified = kit.optional("set_verified")
        async with kit.token_step(client) as step, kit.db.transaction(session) as db:
            action = await kit.tokens.consume(token, Purpose.LOGIN_LINK, session=db)
            user = await kit.account(db, action)
            if set_verified is not None and not is_verified(user):
                await set_verified(db, user)
            kit.check_login(user)
            pair = await self._sessions.start(
                user, client=client, amr=LOGIN_LINK_AMR, fresh=True, session=db
            )
        kit.events.emit(
            EventName.LOGIN_SUCCEEDED,
            user_id=action.user_id,
            session_id=pair.session_id,
            extra={"method": "login_link"},
            **step,
        )
        return pair
