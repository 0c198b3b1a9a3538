"""Settings behave like pydantic-settings: `.env` files, secrets directories, one naming scheme."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from authmanager import AuthSettings

SECRET = "a-secret-from-a-dotenv-file-that-is-long-enough-0123456789"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, as an application's would be."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_dotenv_in_the_working_directory_is_read(workdir: Path) -> None:
    """A `.env` beside the app sets the settings; unrelated variables in it are ignored."""
    (workdir / ".env").write_text(
        f"JWT_SECRET_KEY={SECRET}\nAUTH_ROUTE_PREFIX=/api/v1/auth\nDATABASE_URL=sqlite://\n",
        encoding="utf-8",
    )
    settings = AuthSettings()
    assert settings.secret_key.get_secret_value() == SECRET
    assert settings.route_prefix == "/api/v1/auth"


def test_the_environment_wins_over_dotenv(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in pydantic-settings: keyword arguments, then the environment, then `.env`."""
    (workdir / ".env").write_text("AUTH_ROUTE_PREFIX=/from-file\n", encoding="utf-8")
    monkeypatch.setenv("AUTH_ROUTE_PREFIX", "/from-env")
    assert AuthSettings().route_prefix == "/from-env"
    assert AuthSettings(route_prefix="/from-code").route_prefix == "/from-code"


def test_env_file_can_be_chosen_or_turned_off(workdir: Path) -> None:
    """`_env_file` names another file, or None for none (what `test_settings` uses)."""
    (workdir / ".env").write_text("AUTH_ROUTE_PREFIX=/default-file\n", encoding="utf-8")
    (workdir / "deploy.env").write_text("AUTH_ROUTE_PREFIX=/deploy\n", encoding="utf-8")
    assert AuthSettings(_env_file="deploy.env").route_prefix == "/deploy"
    assert AuthSettings(_env_file=None).route_prefix == "/auth"


def test_a_subclass_can_set_its_own_env_file(workdir: Path) -> None:
    """A subclass's `model_config` works as with any pydantic-settings class."""

    class Settings(AuthSettings):
        model_config = SettingsConfigDict(env_file="auth.env")

    (workdir / "auth.env").write_text("AUTH_ROUTE_PREFIX=/sub\n", encoding="utf-8")
    assert Settings().route_prefix == "/sub"


def test_secrets_dir_can_be_given(tmp_path: Path) -> None:
    """`_secrets_dir` reads `jwt_secret_key` from a directory of one's choosing."""
    (tmp_path / "jwt_secret_key").write_text(SECRET, encoding="utf-8")
    settings = AuthSettings(_secrets_dir=tmp_path, _env_file=None)
    assert settings.secret_key.get_secret_value() == SECRET


def test_cookie_name_has_its_scheme_name_and_keeps_the_old_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`AUTH_COOKIE_NAME` is the name now; 0.1's `AUTH_REFRESH_COOKIE_NAME` still works."""
    monkeypatch.setenv("AUTH_REFRESH_COOKIE_NAME", "old_name")
    assert AuthSettings(_env_file=None).cookie_name == "old_name"
    monkeypatch.setenv("AUTH_COOKIE_NAME", "rt")
    assert AuthSettings(_env_file=None).cookie_name == "rt"


def test_openapi_scopes_from_json_or_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """`AUTH_OPENAPI_SCOPES` takes a JSON object, or comma-separated names."""
    monkeypatch.setenv("AUTH_OPENAPI_SCOPES", '{"read": "Read things"}')
    assert AuthSettings(_env_file=None).openapi_scopes == {"read": "Read things"}
    monkeypatch.setenv("AUTH_OPENAPI_SCOPES", "read, write")
    assert AuthSettings(_env_file=None).openapi_scopes == {"read": "read", "write": "write"}
