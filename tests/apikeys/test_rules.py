"""Names, scopes and lifetimes of keys, and the API key settings: pure checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from authmanager import AuthSettings
from authmanager.apikeys.rules import check_name, check_scopes, check_user_id, expiry

NOW = datetime(2031, 1, 1, tzinfo=UTC)


def test_name_is_stripped() -> None:
    """Surrounding spaces are dropped; inner text is kept as given."""
    assert check_name("  CI deploy key ") == "CI deploy key"


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 101, "line\nbreak", "tab\there", "nul\x00", "bidi\u202e"]
)
def test_bad_name_is_refused(name: str) -> None:
    """Empty, over-long or control-character names raise ValueError."""
    with pytest.raises(ValueError, match="name"):
        check_name(name)


def test_scopes_keep_order_and_drop_duplicates() -> None:
    """Scopes come back as a tuple, in order, each once."""
    assert check_scopes(["read", "write", "read", "repo:status"]) == (
        "read",
        "write",
        "repo:status",
    )
    assert check_scopes(()) == ()


@pytest.mark.parametrize(
    "scopes",
    [["has space"], [""], ['quo"te'], ["back\\slash"], ["é"], ["x" * 65], [1]],
    ids=["space", "empty", "quote", "backslash", "non-ascii", "long", "not-a-string"],
)
def test_bad_scope_is_refused(scopes: list[object]) -> None:
    """A scope outside RFC 6749 §3.3 scope-token syntax raises ValueError."""
    with pytest.raises(ValueError, match="scope"):
        check_scopes(scopes)  # type: ignore[arg-type]


def test_one_string_is_not_a_list_of_scopes() -> None:
    """`scopes="read"` is refused instead of becoming the scopes r, e, a, d."""
    with pytest.raises(ValueError, match="not one string"):
        check_scopes("read")


def test_too_many_scopes_are_refused() -> None:
    """More than 50 distinct scopes raise ValueError."""
    with pytest.raises(ValueError, match="at most 50"):
        check_scopes([f"s{i}" for i in range(51)])


@pytest.mark.parametrize("user_id", ["", "x" * 256, 7])
def test_bad_user_id_is_refused(user_id: object) -> None:
    """A user id is a non-empty string of at most 255 characters."""
    with pytest.raises(ValueError, match="user_id"):
        check_user_id(user_id)  # type: ignore[arg-type]


def test_expiry_defaults_to_the_longest_lifetime() -> None:
    """Without expires_in a key lives the configured maximum; with no maximum, forever."""
    assert expiry(NOW, None, 365) == NOW + timedelta(days=365)
    assert expiry(NOW, None, None) is None


def test_expiry_within_the_cap_is_kept() -> None:
    """An expires_in up to the cap is used as given."""
    assert expiry(NOW, timedelta(days=365), 365) == NOW + timedelta(days=365)
    assert expiry(NOW, timedelta(hours=1), None) == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    "expires_in", [timedelta(0), timedelta(seconds=-1), timedelta(days=365, seconds=1)]
)
def test_bad_expiry_is_refused(expires_in: timedelta) -> None:
    """Zero, negative, or past-the-cap lifetimes raise ValueError."""
    with pytest.raises(ValueError, match=r"expires_in|at most"):
        expiry(NOW, expires_in, 365)


def test_settings_defaults_are_the_safe_ones() -> None:
    """Prefix `am`, 25 keys, a year at most; keys revoked on password change and reset only."""
    settings = AuthSettings()
    assert settings.api_key_prefix == "am"
    assert settings.api_keys_max_per_user == 25
    assert settings.api_key_max_lifetime_days == 365
    assert settings.api_keys_on_logout_all == "keep"
    assert settings.api_keys_on_password_change == "revoke"
    assert settings.api_keys_on_password_reset == "revoke"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every API key setting has its AUTH_ variable; an empty lifetime means no cap."""
    monkeypatch.setenv("AUTH_API_KEY_PREFIX", "acme")
    monkeypatch.setenv("AUTH_API_KEYS_MAX_PER_USER", "3")
    monkeypatch.setenv("AUTH_API_KEY_MAX_LIFETIME_DAYS", "")
    monkeypatch.setenv("AUTH_API_KEYS_ON_LOGOUT_ALL", "revoke")
    monkeypatch.setenv("AUTH_API_KEYS_ON_PASSWORD_CHANGE", "keep")
    monkeypatch.setenv("AUTH_API_KEYS_ON_PASSWORD_RESET", "keep")
    settings = AuthSettings()
    assert settings.api_key_prefix == "acme"
    assert settings.api_keys_max_per_user == 3
    assert settings.api_key_max_lifetime_days is None
    assert settings.api_keys_on_logout_all == "revoke"
    assert settings.api_keys_on_password_change == "keep"
    assert settings.api_keys_on_password_reset == "keep"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("api_key_prefix", "AM"),
        ("api_key_prefix", "a"),
        ("api_key_prefix", "am_x"),
        ("api_key_prefix", "1am"),
        ("api_keys_max_per_user", 0),
        ("api_key_max_lifetime_days", 0),
        ("api_keys_on_logout_all", "maybe"),
    ],
)
def test_bad_settings_are_refused(field: str, value: object) -> None:
    """An unusable prefix, cap, lifetime or policy fails at start-up."""
    with pytest.raises(ValidationError):
        AuthSettings(**{field: value})
