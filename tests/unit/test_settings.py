"""AuthSettings: environment, secrets file, production guard, warnings, secrecy."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import authmanager._core.settings as settings_module
from authmanager import AuthManager, AuthSettings, InsecureSettingsWarning
from authmanager.testing import TEST_SECRET
from tests.app import Users

STRONG = "s" * 32


def build_manager(settings: AuthSettings) -> AuthManager[object]:
    """A manager on an engine that is never connected (construction only)."""
    factory = async_sessionmaker(create_async_engine("sqlite+aiosqlite://"))
    return AuthManager(settings=settings, session_factory=factory, user_loader=Users())


def test_defaults_match_the_contract() -> None:
    """Without environment, every contract field has its documented default."""
    s = AuthSettings()
    assert s.secret_key.get_secret_value() == "supersecret"
    assert (s.algorithm, s.access_token_expire_minutes, s.refresh_token_expire_days) == (
        "HS256",
        30,
        7,
    )
    assert (s.audience, s.issuer, s.production) == (None, None, False)
    assert s.refresh_token_transport == "cookie"
    assert 0 < s.refresh_reuse_grace_seconds <= 30
    assert s.login_rate_limit == "5/15 minutes"
    assert s.session_max_age_days == 30
    assert s.leeway_seconds == 10


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every contract environment variable sets its field."""
    env = {
        "JWT_SECRET_KEY": STRONG,
        "JWT_ALGORITHM": "HS512",
        "JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "5",
        "JWT_REFRESH_TOKEN_EXPIRE_DAYS": "2",
        "JWT_AUDIENCE": "my-api",
        "JWT_ISSUER": "https://issuer.example",
        "AUTH_PRODUCTION": "true",
        "AUTH_REFRESH_TOKEN_TRANSPORT": "body",
        "JWT_REFRESH_REUSE_GRACE_SECONDS": "3",
        "AUTH_LOGIN_RATE_LIMIT": "10 per hour",
        "AUTH_SESSION_MAX_AGE_DAYS": "9",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = AuthSettings()
    assert s.secret_key.get_secret_value() == STRONG
    assert s.algorithm == "HS512"
    assert (s.access_token_expire_minutes, s.refresh_token_expire_days) == (5, 2)
    assert (s.audience, s.issuer) == ("my-api", "https://issuer.example")
    assert s.production is True
    assert s.refresh_token_transport == "body"
    assert s.refresh_reuse_grace_seconds == 3
    assert s.login_rate_limit == "10 per hour"
    assert s.session_max_age_days == 9


def test_keyword_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`AuthSettings(audience=...)` wins over JWT_AUDIENCE."""
    monkeypatch.setenv("JWT_AUDIENCE", "from-env")
    assert AuthSettings(audience="from-kwargs").audience == "from-kwargs"


def test_invalid_environment_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A nonsense value fails at start-up, naming the field."""
    monkeypatch.setenv("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "0")
    with pytest.raises(ValidationError, match="JWT_ACCESS_TOKEN_EXPIRE_MINUTES"):
        AuthSettings()
    monkeypatch.delenv("JWT_ACCESS_TOKEN_EXPIRE_MINUTES")
    monkeypatch.setenv("JWT_ALGORITHM", "none")
    with pytest.raises(ValidationError, match="JWT_ALGORITHM"):
        AuthSettings()


def test_secret_is_read_from_the_secrets_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A `jwt_secret_key` file in the secrets dir supplies the secret."""
    (tmp_path / "jwt_secret_key").write_text(STRONG + "\n")
    monkeypatch.setattr(settings_module, "SECRETS_DIR", tmp_path)
    assert AuthSettings().secret_key.get_secret_value() == STRONG
    assert AuthSettings(production=True).secret_key.get_secret_value() == STRONG


def test_environment_wins_over_the_secrets_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """JWT_SECRET_KEY in the environment takes precedence over the file."""
    (tmp_path / "jwt_secret_key").write_text(STRONG)
    monkeypatch.setattr(settings_module, "SECRETS_DIR", tmp_path)
    monkeypatch.setenv("JWT_SECRET_KEY", TEST_SECRET)
    assert AuthSettings().secret_key.get_secret_value() == TEST_SECRET


def test_missing_secrets_dir_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No secrets dir: the default applies and nothing fails."""
    monkeypatch.setattr(settings_module, "SECRETS_DIR", tmp_path / "absent")
    assert AuthSettings().secret_key.get_secret_value() == "supersecret"


def test_production_refuses_the_default_secret() -> None:
    """AUTH_PRODUCTION with the development default secret does not start."""
    with pytest.raises(ValidationError, match="development default"):
        AuthSettings(production=True)


def test_production_refuses_a_short_hs_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """In production an HS* secret under 32 bytes is refused; 32 bytes is accepted."""
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        AuthSettings(production=True, secret_key="s" * 31)
    monkeypatch.setenv("AUTH_PRODUCTION", "1")
    monkeypatch.setenv("JWT_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        AuthSettings()
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG)
    assert AuthSettings().production is True


def test_short_secret_is_allowed_outside_production() -> None:
    """Development tolerates a short secret (it only warns about the default)."""
    assert AuthSettings(secret_key="dev").secret_key.get_secret_value() == "dev"


def test_empty_secret_is_refused() -> None:
    """An empty HS* secret never passes, in any mode."""
    with pytest.raises(ValidationError, match="empty"):
        AuthSettings(secret_key="")


def test_asymmetric_algorithm_needs_a_private_key() -> None:
    """RS256 without a key is refused with a message naming the missing variable."""
    with pytest.raises(ValidationError, match="JWT_PRIVATE_KEY"):
        AuthSettings(algorithm="RS256")


def test_default_secret_warns_when_a_manager_is_built() -> None:
    """Building a manager on the default secret emits InsecureSettingsWarning."""
    with pytest.warns(InsecureSettingsWarning, match="default JWT_SECRET_KEY"):
        build_manager(AuthSettings(bcrypt_rounds=4))


def test_a_real_secret_builds_without_warning() -> None:
    """A chosen secret builds a manager silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_manager(AuthSettings(secret_key=TEST_SECRET, bcrypt_rounds=4))


def test_repr_and_dumps_never_show_the_secret() -> None:
    """repr, str and model dumps mask the secret."""
    s = AuthSettings(secret_key=TEST_SECRET, previous_keys=["old-secret-value-123"])
    for text in [repr(s), str(s), s.model_dump_json(), str(s.model_dump())]:
        assert TEST_SECRET not in text
        assert "old-secret-value-123" not in text
    assert "**********" in repr(s)


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after construction."""
    s = AuthSettings(secret_key=TEST_SECRET)
    with pytest.raises(ValidationError):
        s.audience = "changed"  # type: ignore[misc]
