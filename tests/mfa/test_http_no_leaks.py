"""No secret, code or token in any event or log line, over every second-factor route."""

from __future__ import annotations

import logging

import pytest

from authmanager import AuthManager
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import bearer
from tests.mfa.authenticator import SoftwareAuthenticator
from tests.mfa.http_support import MfaClient, session_token
from tests.mfa.support import KEY_OLD, leaked


async def test_no_event_or_log_line_carries_a_secret_a_code_or_a_token(
    api: MfaClient,
    mfa_manager: AuthManager[User],
    user: User,
    authenticator: SoftwareAuthenticator,
    events: CapturingHook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Enroll, sign in every way, fail every way, renew codes, remove: then grep it all."""
    secrets: list[str] = [KEY_OLD]
    with caplog.at_level(logging.DEBUG):
        token = await api.token()
        totp = await api.enroll_totp(token)
        secrets += [totp.secret, *totp.recovery_codes, token]
        registered = await api.register_passkey(token, authenticator)
        assert registered.status_code == 201
        for answer in (
            {"code": totp.next_code()},
            {"recovery_code": totp.recovery_codes[0]},
            {"code": "000000"},
            {"recovery_code": "aaaa-bbbb-cccc-dddd"},
        ):
            mfa_token = await api.mfa_token()
            secrets += [mfa_token, *answer.values()]
            response = await api.verify(mfa_token, **answer)
            if response.status_code == 200:
                secrets.append(response.json()["access_token"])
        mfa_token = await api.mfa_token()
        with_passkey = await api.verify_with_passkey(mfa_token, authenticator)
        passwordless = await api.passkey_login(authenticator)
        clone = authenticator.clone()
        clone.credentials[next(iter(clone.credentials))].sign_count = 0
        cloned = await api.passkey_login(clone)
        fresh = session_token(passwordless)
        renewed = (await api.new_recovery_codes(fresh)).json()["recovery_codes"]
        removed = await api.remove(fresh, totp.factor_id)
        await api.http.get("/auth/factors", headers=bearer(fresh))
        secrets += [mfa_token, session_token(with_passkey), fresh, *renewed]
        await mfa_manager.drain_events()
    assert cloned.status_code == 401
    assert removed.status_code == 204
    names = {str(e.name) for e in events.events}
    assert {
        "mfa.challenged",
        "mfa.succeeded",
        "mfa.failed",
        "recovery_code.used",
        "factor.added",
        "factor.removed",
        "login.succeeded",
        "login.failed",
    } <= names
    assert leaked(events.events, *secrets) == []
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert [s for s in secrets if s in logged] == []
