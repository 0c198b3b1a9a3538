"""Build the provider sign-in service from settings (needs the `oidc` extra)."""

from __future__ import annotations

import logging
from typing import Any

from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.settings import AuthSettings
from authmanager.identities.oauth import ProviderHttp
from authmanager.identities.protocols import IdentityUserLoader, SessionStarter
from authmanager.identities.providers import ProviderRegistry
from authmanager.identities.service import IdentityService

__all__ = ["build_identity_service"]

logger = logging.getLogger("authmanager.identities")


def build_identity_service(
    *,
    settings: AuthSettings,
    database: Database,
    users: object,
    sessions: SessionStarter[Any],
    events: HookDispatcher,
    limiter: RateLimiter | None,
) -> IdentityService[Any]:
    """The service of `settings.oidc_providers`: registry, HTTP client with its timeout.

    Raises:
        TypeError: the loader has no `get_user_for_identity`.
    """
    if settings.refresh_token_transport == "body":
        logger.warning(
            "AUTH_OIDC_PROVIDERS is set with AUTH_REFRESH_TOKEN_TRANSPORT=body: the browser "
            "sign-in routes hand the session over in the refresh cookie, so only "
            "POST /oidc/{provider}/token is mounted."
        )
    registry = ProviderRegistry(
        settings.oidc_providers,
        http=ProviderHttp(timeout=settings.oidc_timeout_seconds),
        cache_seconds=settings.oidc_metadata_ttl_seconds,
    )
    loader: IdentityUserLoader[Any] = users  # type: ignore[assignment]
    return IdentityService(
        settings=settings,
        database=database,
        registry=registry,
        users=loader,
        sessions=sessions,
        events=events,
        limiter=limiter,
    )
