"""AccountMailer: issue a token and mail its link, or mail a notice, in the background."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from authmanager._core.events import HookDispatcher
from authmanager._core.types import ClientInfo
from authmanager.accounts._messages import AccountMessage, LinkTemplates, Purpose
from authmanager.accounts._outbox import Outbox
from authmanager.accounts._tokens import ActionTokens
from authmanager.hooks import EventName

if TYPE_CHECKING:
    from authmanager._core.settings import AuthSettings

__all__ = ["ADDRESS_KEY", "AccountMailer", "link_lifetimes"]

#: The key, in a token's data, of the address its link was sent to.
ADDRESS_KEY = "to"


def link_lifetimes(settings: AuthSettings) -> dict[Purpose, timedelta]:
    """The lifetime of each purpose's token, from the `AUTH_*_EXPIRE_MINUTES` settings."""
    return {
        Purpose.VERIFY_EMAIL: timedelta(minutes=settings.verify_email_expire_minutes),
        Purpose.RESET_PASSWORD: timedelta(minutes=settings.reset_password_expire_minutes),
        Purpose.CHANGE_EMAIL: timedelta(minutes=settings.change_email_expire_minutes),
        Purpose.LOGIN_LINK: timedelta(minutes=settings.login_link_expire_minutes),
    }


class AccountMailer:
    """Send the messages of the account flows, every step off the requester's time.

    Issuing the token is part of the background job too: a request for an unknown
    account and one for a real account do the same work before they answer.

    Args:
        tokens: Issues the single-use tokens.
        outbox: Runs the jobs and calls the sender.
        links: Builds each purpose's link.
        lifetimes: How long each purpose's token lives.
        events: Where the "sent" events go.
    """

    def __init__(
        self,
        *,
        tokens: ActionTokens,
        outbox: Outbox,
        links: LinkTemplates,
        lifetimes: Mapping[Purpose, timedelta],
        events: HookDispatcher,
    ) -> None:
        self._tokens = tokens
        self._outbox = outbox
        self._links = links
        self._lifetimes = dict(lifetimes)
        self._events = events

    def send_link(
        self,
        purpose: Purpose,
        *,
        user_id: str,
        to: str,
        client: ClientInfo,
        data: Mapping[str, str] | None = None,
        sent: EventName | None = None,
    ) -> None:
        """In the background: issue a *purpose* token for *user_id* and mail its link to *to*.

        The token's data records *to* (under `ADDRESS_KEY`) and *data*; the *sent*
        event follows once the sender accepted the message.
        """
        life = self._lifetimes[purpose]
        values = {**(data or {}), ADDRESS_KEY: to}

        async def job() -> None:
            issued = await self._tokens.issue(user_id, purpose, expires_in=life, data=values)
            message = AccountMessage(
                purpose=purpose,
                to=to,
                user_id=user_id,
                link=self._links.link(purpose, issued.token),
                token=issued.token,
                expires_at=issued.expires_at,
            )
            if await self._outbox.deliver(message) and sent is not None:
                self._events.emit(
                    sent,
                    user_id=user_id,
                    client_ip=client.ip_address,
                    user_agent=client.user_agent,
                    extra={"purpose": str(purpose)},
                )

        self._outbox.run(job, purpose=purpose, user_id=user_id)

    def send_notice(self, purpose: Purpose, *, user_id: str, to: str) -> None:
        """In the background: mail *to* a notice without a token (`email_changed`, ...)."""

        async def job() -> None:
            await self._outbox.deliver(AccountMessage(purpose=purpose, to=to, user_id=user_id))

        self._outbox.run(job, purpose=purpose, user_id=user_id)
