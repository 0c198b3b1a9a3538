"""`AuthManager` methods: single-use action tokens and the account flows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager._core.tokens import TokenPair
from authmanager._core.types import ClientInfo
from authmanager.accounts._service import AccountService
from authmanager.accounts._tokens import ActionData, ActionToken, ActionTokens

__all__ = ["AccountMethods"]

UserT = TypeVar("UserT")


class AccountMethods(Generic[UserT]):
    """Action tokens (always) and the account flows (with a `sender`)."""

    _action_tokens: ActionTokens
    _accounts: AccountService[UserT] | None

    def _flows(self) -> AccountService[UserT]:
        if self._accounts is None:
            raise TypeError(
                "The account flows send messages: build the manager with "
                "AuthManager(..., sender=...), for example sender=ConsoleSender()."
            )
        return self._accounts

    async def create_action_token(
        self,
        user_id: str,
        purpose: str,
        *,
        expires_in: timedelta,
        data: ActionData | None = None,
        session: AsyncSession | None = None,
    ) -> str:
        """Return a new opaque single-use token for *user_id*, bound to *purpose*.

        256 random bits, of which only the SHA-256 digest is stored. The user's earlier
        tokens of the same purpose stop working. *data* holds a few non-secret JSON
        scalars, given back by `consume_action_token`.

        Raises:
            ValueError: *expires_in* is not positive, or *purpose* is empty or too long.
            TypeError: *data* holds something other than JSON scalars.
            TokenStoreUnavailableError: nothing was issued.
        """
        return await self._action_tokens.create(
            str(user_id), purpose, expires_in=expires_in, data=data, session=session
        )

    async def consume_action_token(
        self, token: str, purpose: str, *, session: AsyncSession | None = None
    ) -> ActionToken:
        """Use *token* up and return what it was issued for; it works once, for *purpose*.

        Consuming is one conditional `UPDATE`: of concurrent consumers exactly one wins.

        Raises:
            InvalidTokenError: an unknown, malformed, used or other-purpose token.
            ExpiredTokenError: the token is past its expiry.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._action_tokens.consume(token, purpose, session=session)

    async def register(
        self,
        login: str,
        password: str,
        *,
        fields: Mapping[str, object] | None = None,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> UserT | None:
        """Create an account through the loader's `create_user`; return the new user.

        The password is checked against the policy and hashed off the event loop. With
        `require_verified_email` on, the new address is sent a `verify_email` link, and
        a taken login raises nothing: its owner is sent `account_exists` and None is
        returned, after the same work (no enumeration).

        Raises:
            InvalidAddressError: the login is not an email address.
            PasswordPolicyError: the password breaks the policy (a `ValueError`; `rule`).
            InvalidFieldsError: the loader refused *fields* (a `ValueError`).
            LoginTakenError: the login is taken (verification not required).
            MissingLoaderMethodError: the loader has no `create_user`.
            TypeError: the manager has no sender.
            RateLimitExceededError: too many requests from this IP or for this address.
            TokenStoreUnavailableError: nothing was created.
        """
        return await self._flows().register(
            login, password, fields=fields, client=client, session=session
        )

    async def request_email_verification(
        self, user: UserT, *, client: ClientInfo | None = None
    ) -> None:
        """Send *user* a `verify_email` link, in the background (nothing when verified).

        Raises:
            MissingLoaderMethodError: the loader has no `set_verified`.
            TypeError: the manager has no sender, or the user's address is unknown.
            RateLimitExceededError: too many requests from this IP or for this address.
            TokenStoreUnavailableError: the rate-limit storage is down.
        """
        await self._flows().request_email_verification(user, client=client)

    async def verify_email(
        self, token: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> UserT:
        """Mark the user of a `verify_email` token verified; return the user.

        Raises:
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or an address changed since the link was sent.
            ExpiredTokenError: the token expired.
            MissingLoaderMethodError: the loader has no `set_verified`.
            TypeError: the manager has no sender.
            RateLimitExceededError: too many failed confirmations from this IP.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._flows().verify_email(token, client=client, session=session)

    async def request_password_reset(
        self, login: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> None:
        """Send a `reset_password` link when *login* is an active account.

        The same result, after the same awaited work, when it is not: the token and
        the message are made in the background.

        Raises:
            InvalidAddressError: *login* is empty, over-long or not printable.
            MissingLoaderMethodError: the loader has no `set_password_hash`.
            TypeError: the manager has no sender.
            RateLimitExceededError: too many requests from this IP or for this login.
            TokenStoreUnavailableError: the database or the rate-limit storage is down.
        """
        await self._flows().request_password_reset(login, client=client, session=session)

    async def reset_password(
        self,
        token: str,
        new_password: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> int:
        """Store a new password with a `reset_password` token; return the tokens revoked.

        In one transaction: the token is consumed, the new hash stored, every session of
        the user and every other reset token of the user ended.

        Raises:
            PasswordPolicyError: the password breaks the policy; the token still works.
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or an address changed since the link was sent.
            ExpiredTokenError: the token expired.
            MissingLoaderMethodError: the loader has no `set_password_hash`.
            TypeError: the manager has no sender.
            RateLimitExceededError: too many failed confirmations from this IP.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._flows().reset_password(
            token, new_password, client=client, session=session
        )

    async def request_email_change(
        self,
        user: UserT,
        new_login: str,
        *,
        client: ClientInfo | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        """Send a `change_email` link to *new_login*; the change waits for its confirmation.

        A *new_login* another account holds gets `account_exists` instead, and the
        caller sees the same result.

        Raises:
            InvalidAddressError: *new_login* is not an address, or is the current one.
            MissingLoaderMethodError: the loader has no `set_login`.
            TypeError: the manager has no sender, or the user's address is unknown.
            RateLimitExceededError: too many requests from this IP or for this address.
            TokenStoreUnavailableError: the database or the rate-limit storage is down.
        """
        await self._flows().request_email_change(user, new_login, client=client, session=session)

    async def confirm_email_change(
        self, token: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> UserT:
        """Make the address of a `change_email` token the user's login, verified.

        Then the old address is sent `email_changed`, and the user's pending links stop
        working. Returns the user.

        Raises:
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or a login changed since the request.
            ExpiredTokenError: the token expired.
            LoginTakenError: another account took the address meanwhile.
            MissingLoaderMethodError: the loader has no `set_login`.
            TypeError: the manager has no sender.
            RateLimitExceededError: too many failed confirmations from this IP.
            TokenStoreUnavailableError: nothing was changed.
        """
        return await self._flows().confirm_email_change(token, client=client, session=session)

    async def request_login_link(
        self, login: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> None:
        """Send a `login_link` when *login* is an active account; the same result otherwise.

        Raises:
            InvalidAddressError: *login* is empty, over-long or not printable.
            TypeError: the manager has no sender.
            RateLimitExceededError: too many requests from this IP or for this login.
            TokenStoreUnavailableError: the database or the rate-limit storage is down.
        """
        await self._flows().request_login_link(login, client=client, session=session)

    async def login_with_link(
        self, token: str, *, client: ClientInfo | None = None, session: AsyncSession | None = None
    ) -> TokenPair:
        """Start a login session with a `login_link` token; return its tokens.

        Every token of the session carries `amr: ["email"]` (RFC 8176). The link
        proves the mailbox, so an unverified user is marked verified first.

        Raises:
            InvalidTokenError: a bad, used or other-purpose token, a user gone or
                inactive, or an address changed since the link was sent.
            ExpiredTokenError: the token expired.
            EmailNotVerifiedError: verification is required and cannot be recorded.
            TypeError: the manager has no sender.
            RateLimitExceededError: too many failed confirmations from this IP.
            TokenStoreUnavailableError: nothing was changed, no session started.
        """
        return await self._flows().login_with_link(token, client=client, session=session)
