"""The identity names of CONTRACT.md ("Sign-in with external providers") are all present.

`../shared/check_contract.py` lists no identity name yet; this is its check for them: the
manager's methods, the public types, and the routes (with providers configured, as the
routes of the account flows are checked with a sender).
"""

from __future__ import annotations

import dataclasses
import inspect

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from authmanager import AuthManager
from authmanager.identities import ExternalIdentity
from authmanager.testing import test_settings
from tests.identities.support import Members

ROUTES = {
    ("GET", "/oidc/{provider}/authorize"),
    ("GET", "/oidc/{provider}/callback"),
    ("POST", "/oidc/{provider}/token"),
    ("POST", "/oidc/{provider}/link"),
    ("GET", "/identities"),
    ("DELETE", "/identities/{identity_id}"),
}
PROVIDERS = {"idp": {"issuer": "https://idp.example", "client_id": "app", "client_secret": "s"}}


def manager(**settings: object) -> AuthManager[object]:
    return AuthManager(
        settings=test_settings(**settings),
        session_factory=async_sessionmaker(create_async_engine("sqlite+aiosqlite://")),
        user_loader=Members(),
    )


def routes(auth: AuthManager[object]) -> set[tuple[str, str]]:
    return {(m, r.path) for r in auth.router.routes for m in getattr(r, "methods", ())}  # type: ignore[attr-defined]


def test_manager_methods_are_async() -> None:
    auth = manager()
    for name in ("list_identities", "unlink_identity", "exchange_id_token"):
        assert inspect.iscoroutinefunction(getattr(auth, name)), name


def test_external_identity_is_frozen_with_the_contract_fields() -> None:
    fields = [f.name for f in dataclasses.fields(ExternalIdentity)]
    assert fields == ["provider", "issuer", "subject", "email", "email_verified", "name", "claims"]
    assert ExternalIdentity.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_every_route_with_providers() -> None:
    auth = manager(oidc_providers=PROVIDERS, oidc_redirect_base_url="https://app.example.com")
    assert ROUTES - routes(auth) == set()


def test_without_providers_only_the_identity_list() -> None:
    found = {r for r in routes(manager()) if "identit" in r[1] or "oidc" in r[1]}
    assert found == {("GET", "/identities"), ("DELETE", "/identities/{identity_id}")}
