"""Pure logic of second factors, no database: settings, the key ring, codes, time steps."""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from authmanager import AuthSettings
from authmanager.exceptions import InvalidCredentialsError, TokenStoreUnavailableError
from authmanager.mfa import totp
from authmanager.mfa.crypto import SecretBox
from authmanager.mfa.recovery import code_digest, new_codes
from authmanager.testing import TEST_SECRET
from tests.mfa.authenticator import SoftwareAuthenticator, b64url, unb64url
from tests.mfa.support import KEY_NEW, KEY_OLD, ORIGIN, RP_ID, T0

STRONG = TEST_SECRET


# --- settings ----------------------------------------------------------------------------
def test_second_factors_are_off_by_default() -> None:
    """Defaults: TOTP off, no keys, passkeys off, 5-minute mfa tokens, 10 failures an hour."""
    s = AuthSettings()
    assert (s.mfa_totp_enabled, s.mfa_encryption_keys, s.webauthn_rp_id) == (False, [], None)
    assert (s.mfa_token_expire_minutes, s.mfa_rate_limit) == (5, "10/hour")
    assert s.effective_webauthn_origins == []
    assert s.effective_totp_issuer == "authmanager"


def test_keys_are_read_from_the_environment_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTH_MFA_ENCRYPTION_KEYS: comma-separated or a JSON list, the first one encrypting."""
    monkeypatch.setenv("AUTH_MFA_ENCRYPTION_KEYS", f"{KEY_NEW}, {KEY_OLD}")
    monkeypatch.setenv("AUTH_MFA_TOTP_ENABLED", "true")
    s = AuthSettings()
    assert [k.get_secret_value() for k in s.mfa_encryption_keys] == [KEY_NEW, KEY_OLD]
    assert s.mfa_totp_enabled is True
    assert KEY_NEW not in repr(s)
    monkeypatch.setenv("AUTH_MFA_ENCRYPTION_KEYS", json.dumps([KEY_OLD]))
    assert [k.get_secret_value() for k in AuthSettings().mfa_encryption_keys] == [KEY_OLD]


def test_a_bad_key_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value that is not a Fernet key fails at start-up; the error shows neither key."""
    bad = "not-a-fernet-key-but-a-secret-all-the-same"
    monkeypatch.setenv("AUTH_MFA_ENCRYPTION_KEYS", f"{KEY_OLD},{bad}")
    with pytest.raises(ValidationError, match="key 2 is not a Fernet key") as caught:
        AuthSettings()
    assert bad not in str(caught.value)
    assert KEY_OLD not in str(caught.value)


def test_other_settings_errors_do_not_echo_secrets_either(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation errors hide their input: a short JWT secret is not printed back."""
    monkeypatch.setenv("JWT_SECRET_KEY", "short-secret-value")
    with pytest.raises(ValidationError) as caught:
        AuthSettings(production=True)
    assert "short-secret" not in str(caught.value)


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
def test_totp_without_keys_does_not_start(production: bool) -> None:
    """AUTH_MFA_TOTP_ENABLED without AUTH_MFA_ENCRYPTION_KEYS is refused, naming both."""
    with pytest.raises(ValidationError, match="AUTH_MFA_TOTP_ENABLED needs AUTH_MFA_ENCRYPTION"):
        AuthSettings(production=production, secret_key=STRONG, mfa_totp_enabled=True)
    assert AuthSettings(production=production, secret_key=STRONG).mfa_totp_enabled is False


def test_production_with_totp_and_keys_starts() -> None:
    """Production accepts TOTP once keys are set."""
    s = AuthSettings(
        production=True, secret_key=STRONG, mfa_totp_enabled=True, mfa_encryption_keys=[KEY_OLD]
    )
    assert s.mfa_totp_enabled is True


def test_passkey_origins_default_to_https_on_the_rp_id() -> None:
    """Without AUTH_WEBAUTHN_ORIGINS the only origin is https://<rp id>."""
    s = AuthSettings(webauthn_rp_id="Example.COM", webauthn_rp_name="Example")
    assert s.webauthn_rp_id == "example.com"
    assert s.effective_webauthn_origins == ["https://example.com"]
    assert (s.effective_webauthn_rp_name, s.effective_totp_issuer) == ("Example", "Example")


def test_passkey_origins_may_be_subdomains_apps_and_local_http_in_development() -> None:
    """Subdomains of the RP id and Android apps pass; http is allowed outside production."""
    android = "android:apk-key-hash:Oj0R3bmJIbBm3EyOpFeGy-C1YKRvVQMrUd3YZoXU2nY"
    s = AuthSettings(
        webauthn_rp_id="localhost",
        webauthn_origins=f"http://localhost:8000, https://a.localhost/, {android}",
    )
    assert s.effective_webauthn_origins == [
        "http://localhost:8000",
        "https://a.localhost",
        android,
    ]


@pytest.mark.parametrize(
    ("rp_id", "origins", "production", "message"),
    [
        ("example.com", "https://evil.test", False, "not on AUTH_WEBAUTHN_RP_ID"),
        ("example.com", "https://notexample.com", False, "not on AUTH_WEBAUTHN_RP_ID"),
        ("example.com", "https://example.com/login", False, "scheme://host"),
        ("example.com", "example.com", False, "not an origin"),
        ("example.com", "http://example.com", True, "must use https"),
        ("https://example.com", "", False, "bare domain"),
        ("example.com:443", "", False, "bare domain"),
        ("127.0.0.1", "", False, "IP address"),
        (None, "https://example.com", False, "set AUTH_WEBAUTHN_RP_ID too"),
    ],
)
def test_passkey_settings_that_cannot_work_are_refused(
    rp_id: str | None, origins: str, production: bool, message: str
) -> None:
    """An origin off the RP id, a path, http in production or a URL as RP id: refused."""
    with pytest.raises(ValidationError, match=message):
        AuthSettings(
            secret_key=STRONG,
            production=production,
            webauthn_rp_id=rp_id,
            webauthn_origins=origins,
        )


# --- the key ring ------------------------------------------------------------------------
def test_the_box_encrypts_under_the_first_key_and_opens_with_any() -> None:
    """Round trip; a new first key still opens old ciphertexts; rotate moves them forward."""
    from pydantic import SecretStr

    old = SecretBox([SecretStr(KEY_OLD)])
    token = old.encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in token
    both = SecretBox([SecretStr(KEY_NEW), SecretStr(KEY_OLD)])
    assert both.decrypt(token) == "JBSWY3DPEHPK3PXP"
    assert both.is_current(token) is False
    rotated = both.rotate(token)
    assert both.is_current(rotated) is True
    assert Fernet(KEY_NEW).decrypt(rotated.encode()) == b"JBSWY3DPEHPK3PXP"
    assert SecretBox([SecretStr(KEY_NEW)]).decrypt(rotated) == "JBSWY3DPEHPK3PXP"


def test_a_ciphertext_no_key_opens_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    """Unknown key or tampered text: TokenStoreUnavailableError and an error log naming why."""
    from pydantic import SecretStr

    token = SecretBox([SecretStr(KEY_OLD)]).encrypt("JBSWY3DPEHPK3PXP")
    box = SecretBox([SecretStr(KEY_NEW)])
    with caplog.at_level(logging.ERROR, "authmanager.mfa"):
        for bad in (token, token[:-2] + "xx", "not even base64 ✓"):
            with pytest.raises(TokenStoreUnavailableError):
                box.decrypt(bad)
    assert "AUTH_MFA_ENCRYPTION_KEYS" in caplog.text
    with pytest.raises(ValueError, match="at least one"):
        SecretBox([])


# --- TOTP --------------------------------------------------------------------------------
def test_secrets_are_160_random_bits_in_base32() -> None:
    """32 base32 characters (RFC 4226 R6), all different across calls."""
    secrets_ = {totp.new_secret() for _ in range(50)}
    assert len(secrets_) == 50
    assert all(len(s) == 32 and pyotp.TOTP(s).byte_secret() for s in secrets_)


def test_matching_step_accepts_one_step_either_side() -> None:
    """The step of the code is found within ±1; further, malformed or wrong: None."""
    secret = totp.new_secret()
    step = int(T0.timestamp()) // 30
    for offset in (-1, 0, 1):
        code = pyotp.TOTP(secret).at(T0 + timedelta(seconds=30 * offset))
        assert totp.matching_step(secret, code, now=T0) == step + offset
        assert totp.matching_step(secret, f"{code[:3]} {code[3:]}", now=T0) == step + offset
    for offset in (-2, 2):
        code = pyotp.TOTP(secret).at(T0 + timedelta(seconds=30 * offset))
        assert totp.matching_step(secret, code, now=T0) is None
    for bad in ("", "12345", "1234567", "12345a", "١٢٣٤٥٦"):
        assert totp.matching_step(secret, bad, now=T0) is None


def test_the_provisioning_uri_names_issuer_and_account() -> None:
    """The URI is what authenticator apps expect (Key Uri Format)."""
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    uri = totp.provisioning_uri(secret, account="a@b.c", issuer="Acme Inc")
    assert uri.startswith("otpauth://totp/Acme%20Inc:a%40b.c?")
    assert f"secret={secret}" in uri
    assert "issuer=Acme%20Inc" in uri
    assert totp.qr_svg(uri).startswith("<svg")


# --- recovery codes ----------------------------------------------------------------------
def test_recovery_codes_are_ten_distinct_80_bit_codes() -> None:
    """Ten codes of 16 Crockford base32 characters (80 bits), shown in groups of four."""
    codes = new_codes()
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert set(code.replace("-", "")) <= set("0123456789abcdefghjkmnpqrstvwxyz")


def test_recovery_code_digests_forgive_case_dashes_and_lookalikes() -> None:
    """Upper case, spaces, no dashes, O for 0 and I/L for 1 give the same digest."""
    code = "0a1b-2c3d-4e5f-6g7h"
    same = [
        "0A1B2C3D4E5F6G7H",
        " 0a1b 2c3d 4e5f 6g7h ",
        "Oa1b-2c3d-4e5f-6g7h",
        "0alb-2c3d-4e5f-6g7h",
    ]
    assert {code_digest(c) for c in same} == {code_digest(code)}
    assert code_digest("0a1b-2c3d-4e5f-6g7") is None  # too short
    assert code_digest("0a1b-2c3d-4e5f-6g7u") is None  # not in the alphabet


# --- optional extra ----------------------------------------------------------------------
WITHOUT_EXTRA = """
import json, sys
for name in ("pyotp", "segno", "webauthn"):
    sys.modules[name] = None  # as if the `mfa` extra were not installed
import authmanager.mfa
from authmanager._core.events import HookDispatcher
from authmanager._core.ratelimit import RateLimiter
from authmanager.mfa import MfaService
from authmanager.mfa.tables import factors
from authmanager.testing import test_settings

out = {"table": factors.name}
for kind, overrides in [("totp", {"mfa_encryption_keys": [KEY]}),
                        ("passkeys", {"webauthn_rp_id": "example.com"})]:
    try:
        MfaService(settings=test_settings(**overrides), database=None, users=None,
                   sessions=None, sign_outs=None, events=HookDispatcher([], timeout=1),
                   limiter=RateLimiter("memory://"))
    except ImportError as exc:
        out[kind] = str(exc)
print(json.dumps(out))
"""


def test_the_package_imports_without_the_mfa_extra_and_names_it_when_needed() -> None:
    """`import authmanager.mfa` needs no extra; configuring TOTP or passkeys without it
    fails at construction with an ImportError naming `authmanager[mfa]`."""
    result = subprocess.run(
        [sys.executable, "-c", f"KEY = {KEY_OLD!r}\n" + WITHOUT_EXTRA],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "JWT_"))},
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["table"] == "authmanager_mfa_factors"
    assert out["totp"] == "TOTP needs pyotp and segno: pip install 'authmanager[mfa]'."
    assert out["passkeys"] == "Passkeys need py_webauthn: pip install 'authmanager[mfa]'."


# --- passkey responses, mutated --------------------------------------------------------
def _ceremonies() -> Any:
    from authmanager.mfa.passkeys import Ceremonies

    return Ceremonies(rp_id=RP_ID, rp_name="Example", origins=[ORIGIN], timeout_seconds=60)


def _mutations(response: dict[str, Any], fields: list[str], count: int) -> Iterator[Any]:
    """Copies of *response* with one random byte of one field flipped (seeded)."""
    rng = random.Random(16)
    for _ in range(count):
        field = rng.choice(fields)
        data = bytearray(unb64url(response["response"][field]))
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        yield {**response, "response": {**response["response"], field: b64url(bytes(data))}}


def test_mutated_registration_responses_never_crash_the_check() -> None:
    """300 one-bit corruptions: each either verifies or is refused, never another error."""
    ceremonies = _ceremonies()
    challenge = b"c" * 32
    options = ceremonies.registration_options(
        challenge=challenge, user_handle=b64url(b"h" * 32), user_name="a", exclude=[]
    )
    response = SoftwareAuthenticator(origin=ORIGIN).create(options)
    outcomes = set()
    for mutated in _mutations(response, ["attestationObject", "clientDataJSON"], 300):
        try:
            parsed, _answered = ceremonies.parse_registration(mutated)
            ceremonies.verify_registration(parsed, challenge)
            outcomes.add("verified")
        except InvalidCredentialsError as exc:
            outcomes.add(str(exc.reason))
    assert "passkey" in outcomes


def test_mutated_assertions_never_verify() -> None:
    """300 one-bit corruptions of a signed assertion: every one is refused, none crashes."""
    from authmanager.mfa.passkeys import credential_key

    ceremonies = _ceremonies()
    authenticator = SoftwareAuthenticator(origin=ORIGIN)
    registration = ceremonies.registration_options(
        challenge=b"r" * 32, user_handle=b64url(b"h" * 32), user_name="a", exclude=[]
    )
    parsed, _ = ceremonies.parse_registration(authenticator.create(registration))
    public_key = ceremonies.verify_registration(parsed, b"r" * 32).public_key
    options = ceremonies.authentication_options(
        challenge=b"a" * 32, allow=[], user_verification=True
    )
    response = authenticator.get(options)
    good = ceremonies.parse_authentication(response)
    assert ceremonies.verify_authentication(good, public_key=public_key, user_verification=True)
    fields = ["authenticatorData", "clientDataJSON", "signature"]

    def check(mutated: dict[str, Any]) -> None:
        assertion = ceremonies.parse_authentication(mutated)
        assert assertion.credential_key == credential_key(unb64url(response["rawId"]))
        ceremonies.verify_authentication(assertion, public_key=public_key, user_verification=True)

    for mutated in _mutations(response, fields, 300):
        with pytest.raises(InvalidCredentialsError):
            check(mutated)


def test_non_json_mappings_are_refused() -> None:
    """A mapping holding bytes (not JSON) is refused like any malformed response."""
    with pytest.raises(InvalidCredentialsError):
        _ceremonies().parse_authentication({"id": b"raw bytes"})
