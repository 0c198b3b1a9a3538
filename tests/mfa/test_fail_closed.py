"""Fail closed: with the database unreachable, every second-factor method raises 503's error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager, TokenStoreUnavailableError
from authmanager.mfa import MfaService
from authmanager.testing import test_settings
from tests.app import User, Users
from tests.mfa.authenticator import SoftwareAuthenticator, b64url
from tests.mfa.support import KEY_OLD, ORIGIN, RP_ID

UNREACHABLE = {
    "postgres-closed-port": "postgresql+asyncpg://u:p@127.0.0.1:1/x",
    "sqlite-missing-dir": "sqlite+aiosqlite:///{tmp}/no/such/dir/auth.db",
    "sqlite-no-tables": "sqlite+aiosqlite:///{tmp}/empty.db",
}


OPTIONS = {"rp": {"id": RP_ID}, "user": {"id": b64url(b"h")}, "challenge": b64url(b"c" * 32)}


def _registration() -> dict[str, Any]:
    return SoftwareAuthenticator(origin=ORIGIN).create(OPTIONS)


def _assertion() -> dict[str, Any]:
    authenticator = SoftwareAuthenticator(origin=ORIGIN)
    authenticator.create(OPTIONS)
    return authenticator.get({"rpId": RP_ID, "challenge": OPTIONS["challenge"]})


class Someone:
    id = 7
    email = "someone@example.com"


@pytest.fixture(params=list(UNREACHABLE))
async def broken(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MfaService]:
    """The manager's service, whose database cannot answer."""
    engine = create_async_engine(UNREACHABLE[request.param].format(tmp=tmp_path))
    factory = async_sessionmaker(engine, expire_on_commit=False)
    settings = test_settings(
        mfa_totp_enabled=True,
        mfa_encryption_keys=[KEY_OLD],
        webauthn_rp_id=RP_ID,
        webauthn_origins=[ORIGIN],
    )
    manager: AuthManager[User] = AuthManager(
        settings=settings, session_factory=factory, user_loader=Users()
    )
    yield manager._mfa
    await manager.aclose()
    await engine.dispose()


CALLS: dict[str, Callable[[MfaService], Awaitable[Any]]] = {
    "has_active_factor": lambda m: m.has_active_factor("7"),
    "has_passkey": lambda m: m.has_passkey("7"),
    "second_step": lambda m: m.second_step(Someone()),
    "factor_kinds": lambda m: m.factor_kinds("7"),
    "challenge": lambda m: m.challenge(Someone()),
    "verify": lambda m: m.verify("some-mfa-token", code="123456"),
    "passkey_options": lambda m: m.passkey_options("some-mfa-token"),
    "passkey_login_options": lambda m: m.passkey_login_options(),
    "login_with_passkey": lambda m: m.login_with_passkey(_assertion()),
    "verify_passkey": lambda m: m.verify("some-mfa-token", passkey=_assertion()),
    "register_passkey": lambda m: m.register_passkey(Someone(), _registration()),
    "begin_totp": lambda m: m.begin_totp(Someone()),
    "confirm_totp": lambda m: m.confirm_totp(Someone(), "factor", "123456"),
    "passkey_registration_options": lambda m: m.passkey_registration_options(Someone()),
    "list_factors": lambda m: m.list_factors("7"),
    "rename_factor": lambda m: m.rename_factor(Someone(), "factor", "x"),
    "remove_factor": lambda m: m.remove_factor(Someone(), "factor"),
    "new_recovery_codes": lambda m: m.new_recovery_codes(Someone()),
    "rotate_secrets": lambda m: m.rotate_secrets(),
    "purge_expired": lambda m: m.purge_expired(),
}


@pytest.mark.parametrize("call", list(CALLS))
async def test_every_method_fails_closed(broken: MfaService, call: str) -> None:
    """No answer from the database: TokenStoreUnavailableError, never a pass or a crash."""
    with pytest.raises(TokenStoreUnavailableError):
        await CALLS[call](broken)
