"""The demo's sign-in with providers: its identity policy and its "Sign in with" buttons.

Point the demo at a provider by settings alone (`AUTH_OIDC_PROVIDERS`, and
`AUTH_OIDC_REDIRECT_BASE_URL`, which `python -m authmanager.demo` fills in with its own
address); its page then shows one button per provider.
"""

from __future__ import annotations

import html
from typing import TypeVar
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from authmanager import AuthSettings, SQLAlchemyUserLoader
from authmanager.identities import ExternalIdentity

__all__ = ["DemoUsers", "provider_buttons"]

ModelT = TypeVar("ModelT")


class DemoUsers(SQLAlchemyUserLoader[ModelT]):
    """The ready loader, plus the demo's policy for identities without a link yet.

    An identity signs in as the account whose email it has (the library links the two
    only when the provider and the account both say the email is verified), or gets a
    new account without a password; an identity without an email is refused.
    """

    async def get_user_for_identity(
        self, session: AsyncSession, identity: ExternalIdentity
    ) -> ModelT | None:
        """Find or create the user of *identity*; None refuses it."""
        if identity.email is None:
            return None
        existing = await self.get_user_by_login(session, identity.email)
        if existing is not None:
            return existing
        user = await self.create_user(session, identity.email, None, {})
        if identity.email_verified and hasattr(self, "set_verified"):
            await self.set_verified(session, user)
        return user


def provider_buttons(settings: AuthSettings) -> str:
    """HTML links "Sign in with <provider>", one per configured provider (or nothing)."""
    links: list[str] = []
    for name in settings.oidc_providers:
        target = f"/?signed_in={name}"
        href = f"{settings.route_prefix}/oidc/{quote(name)}/authorize?next={quote(target, safe='')}"
        links.append(
            f'<a class="provider" id="provider-{html.escape(name)}" '
            f'href="{html.escape(href)}">Sign in with {html.escape(name)}</a>'
        )
    return "\n  ".join(links)
