"""AUTH_OIDC_PROVIDERS and the other identity settings (pure logic)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from authmanager.identities import ProviderConfig
from authmanager.testing import test_settings

GITHUB = {
    "authorization_endpoint": "https://github.com/login/oauth/authorize",
    "token_endpoint": "https://github.com/login/oauth/access_token",
    "userinfo_endpoint": "https://api.github.com/user",
    "client_id": "gh-client",
    "client_secret": "gh-secret-value",
    "scopes": ["read:user", "user:email"],
    "userinfo_fields": {"subject": "id", "email": "email", "email_verified": None},
}


def test_providers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON object: an OpenID provider by issuer, a plain OAuth 2.0 one by endpoints."""
    value = {
        "google": {
            "issuer": "https://accounts.google.com",
            "client_id": "g-client",
            "client_secret": "g-secret-value",
            "native_client_ids": ["ios-client"],
        },
        "github": GITHUB,
    }
    monkeypatch.setenv("AUTH_OIDC_PROVIDERS", json.dumps(value))
    monkeypatch.setenv("AUTH_OIDC_REDIRECT_BASE_URL", "https://app.example.com/")
    settings = test_settings()
    google, github = settings.oidc_providers["google"], settings.oidc_providers["github"]
    assert google.is_oidc
    assert google.scope_list == ["openid", "email", "profile"]
    assert google.auth_method == "client_secret_basic"
    assert google.native_client_ids == ["ios-client"]
    assert not github.is_oidc
    assert github.scope_list == ["read:user", "user:email"]
    assert github.userinfo_fields.subject == "id"
    assert github.userinfo_fields.email_verified is None
    assert settings.oidc_redirect_base_url == "https://app.example.com"
    assert "g-secret-value" not in repr(settings)
    assert "gh-secret-value" not in repr(settings)


def test_public_client_needs_no_secret() -> None:
    config = ProviderConfig(issuer="https://idp.example", client_id="spa")
    assert config.auth_method == "none"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({**GITHUB, "issuer": "https://github.com"}, "either issuer"),
        ({"client_id": "c"}, "needs issuer"),
        ({"token_endpoint": "https://x.example/t", "client_id": "c"}, "needs issuer"),
        ({"issuer": "http://idp.example", "client_id": "c"}, "https"),
        ({"issuer": "idp.example", "client_id": "c"}, "absolute https URL"),
        ({"issuer": "https://u:p@idp.example", "client_id": "c"}, "credentials"),
        ({"issuer": "https://idp.example", "client_id": "c", "scopes": ["email"]}, "openid"),
        (
            {
                "issuer": "https://idp.example",
                "client_id": "c",
                "token_endpoint_auth_method": "client_secret_post",
            },
            "needs client_secret",
        ),
        ({"issuer": "https://idp.example", "client_id": ""}, "at least 1"),
        ({"issuer": "https://idp.example", "client_id": "c", "typo": 1}, "Extra inputs"),
    ],
)
def test_bad_provider_configurations_are_refused(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProviderConfig.model_validate(config)


def test_plain_http_is_allowed_on_loopback_only() -> None:
    assert ProviderConfig(issuer="http://127.0.0.1:4000", client_id="c").issuer
    assert ProviderConfig(issuer="http://localhost:4000", client_id="c").issuer


@pytest.mark.parametrize("name", ["Google", "has space", "", "a" * 33, "-x", "x/y"])
def test_provider_names_must_be_plain(name: str) -> None:
    with pytest.raises(ValidationError, match="Provider name"):
        test_settings(
            oidc_providers={name: {"issuer": "https://idp.example", "client_id": "c"}},
            oidc_redirect_base_url="https://app.example",
        )


def test_providers_need_the_redirect_base_url() -> None:
    with pytest.raises(ValidationError, match="AUTH_OIDC_REDIRECT_BASE_URL"):
        test_settings(oidc_providers={"idp": {"issuer": "https://idp.example", "client_id": "c"}})


@pytest.mark.parametrize("base", ["http://app.example", "https://app.example/?x=1", "app"])
def test_redirect_base_must_be_https_without_query(base: str) -> None:
    with pytest.raises(ValidationError, match="AUTH_OIDC_REDIRECT_BASE_URL"):
        test_settings(oidc_redirect_base_url=base)


def test_no_providers_by_default() -> None:
    settings = test_settings()
    assert settings.oidc_providers == {}
    assert settings.oidc_flow_ttl_seconds == 600
    assert settings.oidc_cookie_name == "authmanager_oidc"
