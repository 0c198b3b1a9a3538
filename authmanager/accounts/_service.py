"""AccountService: the account flows of the contract, behind one object."""

from __future__ import annotations

from typing import Generic, TypeVar

from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.passwords import PasswordHasher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.settings import AuthSettings
from authmanager.accounts._email_change import EmailChange
from authmanager.accounts._kit import AccountKit
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._ports import AccountUserLoader, SessionRevoker, SessionStarter
from authmanager.accounts._recovery import Recovery
from authmanager.accounts._registration import Registration
from authmanager.accounts._tokens import ActionTokens
from authmanager.accounts._verification import Verification

__all__ = ["AccountService"]

UserT = TypeVar("UserT")


class AccountService(Generic[UserT]):
    """Registration, verification, password reset, email change and sign-in links.

    Each flow lives in its own class (`Registration`, `Verification`, `Recovery`,
    `EmailChange`) over one `AccountKit`; this object builds them and offers their
    methods under the contract's names, so the manager delegates each of its methods in
    one line: `register` (and `request_registration`, the enumeration-safe form
    `/register` uses with verification required), `request_email_verification`,
    `verify_email`, `request_password_reset`,
    `reset_password`, `request_email_change`, `confirm_email_change`,
    `request_login_link`, `login_with_link`, and `check_login` (the
    `AUTH_REQUIRE_VERIFIED_EMAIL` rule for `/login`).

    Args:
        settings: Account settings (rate limit, templates, lifetimes, password policy).
        database: The token store's `Database` (revocations inside the flows' transactions
            then reach the state cache).
        users: The application's loader; its optional methods enable what needs them.
        hasher: Hashes new passwords off the event loop.
        tokens: The single-use action tokens (also behind the manager's
            `create_action_token`, `consume_action_token` and `purge_expired`).
        outbox: Runs the background jobs and calls the sender (`drain` it at shutdown).
        limiter: Counts requests per IP and per address.
        events: Receives the account events.
        sessions: Starts the session of a sign-in link.
        revoker: Ends every session of a user after a password reset.

    Raises:
        TypeError: an optional loader method is not `async def`, or
            `require_verified_email` is on and the loader has no `set_verified`.
        ValueError: a link template or the password policy is unusable.
    """

    def __init__(
        self,
        *,
        settings: AuthSettings,
        database: Database,
        users: AccountUserLoader[UserT],
        hasher: PasswordHasher,
        tokens: ActionTokens,
        outbox: Outbox,
        limiter: RateLimiter,
        events: HookDispatcher,
        sessions: SessionStarter,
        revoker: SessionRevoker,
    ) -> None:
        kit = AccountKit(
            settings=settings,
            database=database,
            users=users,
            hasher=hasher,
            tokens=tokens,
            outbox=outbox,
            limiter=limiter,
            events=events,
        )
        registration = Registration(kit=kit)
        verification = Verification(kit=kit)
        recovery = Recovery(kit=kit, sessions=sessions, revoker=revoker)
        change = EmailChange(kit=kit)
        self.can_register = kit.optional("create_user") is not None
        """Whether the loader has `create_user` (the `/register` route needs it)."""
        self.password_policy = kit.policy
        """The password rules, for `change_password` too (`password_policy.check(pw)`)."""
        self.check_login = kit.check_login
        self.register = registration.register
        self.request_registration = registration.request_registration
        self.request_email_verification = verification.request_email_verification
        self.verify_email = verification.verify_email
        self.request_password_reset = recovery.request_password_reset
        self.reset_password = recovery.reset_password
        self.request_login_link = recovery.request_login_link
        self.login_with_link = recovery.login_with_link
        self.request_email_change = change.request_email_change
        self.confirm_email_change = change.confirm_email_change
