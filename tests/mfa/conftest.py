"""Fixtures of the second-factor tests: `MfaService` on the test database, real collaborators.

The session starter, the sign-out marks and the user loader are the real ones: the
manager's `SessionService` (its `start` puts `amr` on every token of the session), a
`TokenStore` on the test database (the revoke-all watermark the manager writes), and
the test application's `SQLAlchemyUserLoader`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import authmanager.mfa  # noqa: F401 - registers the tables before `engine` creates them
from authmanager import AuthManager, TokenPayload, install_exception_handlers
from authmanager._core.database import Database
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager._core.store import TokenStore
from authmanager.mfa import MfaService
from authmanager.testing import CapturingHook, test_settings
from tests.app import User, Users, make_app
from tests.conftest import client_for
from tests.mfa.authenticator import SoftwareAuthenticator
from tests.mfa.http_support import MFA_SETTINGS, MfaClient
from tests.mfa.support import KEY_OLD, ORIGIN, RP_ID


@pytest.fixture
def dispatcher(events: CapturingHook) -> HookDispatcher:
    """The dispatcher of the services under test; it reports to `events`."""
    return HookDispatcher([events], timeout=2.0)


MakeService = Callable[..., MfaService]


@pytest.fixture
def make_service(
    session_factory: async_sessionmaker[AsyncSession],
    manager: AuthManager[User],
    dispatcher: HookDispatcher,
) -> MakeService:
    """Build an `MfaService` on the test database; keyword arguments override settings."""

    def factory(*, limiter: RateLimiter | None = None, **overrides: Any) -> MfaService:
        values: dict[str, Any] = {
            "mfa_totp_enabled": True,
            "mfa_encryption_keys": [KEY_OLD],
            "webauthn_rp_id": RP_ID,
            "webauthn_origins": [ORIGIN],
        }
        values.update(overrides)
        database = Database(session_factory)
        return MfaService(
            settings=test_settings(**values),
            database=database,
            users=Users(),
            sessions=manager._sessions,
            sign_outs=TokenStore(database),
            events=dispatcher,
            limiter=limiter or RateLimiter("memory://"),
        )

    return factory


@pytest.fixture
def mfa(make_service: MakeService) -> MfaService:
    """The service with TOTP (one key) and passkeys for https://example.com."""
    return make_service()


@pytest.fixture
def authenticator() -> SoftwareAuthenticator:
    """A platform authenticator that verifies the user and counts signatures."""
    return SoftwareAuthenticator(origin=ORIGIN)


@pytest.fixture
def mfa_manager(make_manager: Callable[..., AuthManager[User]]) -> AuthManager[User]:
    """A manager with TOTP (one key) and passkeys for https://example.com."""
    return make_manager(**MFA_SETTINGS)


def mfa_app(manager: AuthManager[User]) -> FastAPI:
    """The test app of *manager*, with a route only a two-factor session may call.

    Its own routes answer in the library's error shape (`install_exception_handlers`).
    """
    app = make_app(manager)
    install_exception_handlers(app)

    @app.get("/sensitive")
    async def sensitive(payload: TokenPayload = Depends(manager.require_mfa)) -> dict[str, Any]:
        return {"sub": payload.sub, "amr": payload.amr}

    return app


@pytest.fixture
async def api(mfa_manager: AuthManager[User]) -> AsyncIterator[MfaClient]:
    """The HTTP API of `mfa_manager`, over HTTPS, with its cookie jar."""
    async with client_for(mfa_app(mfa_manager)) as http:
        yield MfaClient(http)
    await mfa_manager.aclose()
