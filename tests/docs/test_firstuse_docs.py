"""Docs a newcomer can navigate: grouped navigation, every table named, readable settings."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import yaml

from authmanager import AuthSettings, metadata

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CAPABILITIES = [f"authmanager.{c}" for c in ("accounts", "mfa", "identities", "apikeys")]
#: The settings of the tokens and their keys; every other field's variable starts AUTH_.
JWT_FIELDS = {
    "secret_key",
    "algorithm",
    "private_key",
    "private_key_file",
    "previous_keys",
    "access_token_expire_minutes",
    "refresh_token_expire_days",
    "audience",
    "issuer",
    "leeway_seconds",
    "max_token_bytes",
    "refresh_reuse_grace_seconds",
}


def _nav() -> list[dict[str, Any]]:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    # mkdocs.yml may hold !!python tags for extensions; the nav needs none of them.
    nav: list[dict[str, Any]] = yaml.safe_load("nav:" + config.split("\nnav:", 1)[1])["nav"]
    return nav


def _pages(entries: list[Any]) -> list[str]:
    found: list[str] = []
    for entry in entries:
        for value in entry.values():
            found += _pages(value) if isinstance(value, list) else [value]
    return found


def test_navigation_is_grouped_for_newcomers() -> None:
    """Getting started, guides by task, operations, reference: in that order, nothing loose."""
    nav = _nav()
    assert [next(iter(entry)) for entry in nav] == [
        "Getting started",
        "Guides",
        "Operations",
        "Reference",
    ]
    started = _pages(nav[0]["Getting started"])
    assert started[:2] == ["index.md", "quickstart.md"]
    guides = nav[1]["Guides"]
    assert all(isinstance(group, dict) and len(group) == 1 for group in guides)
    assert all(isinstance(pages, list) for group in guides for pages in group.values())


def test_every_page_is_in_the_navigation_once() -> None:
    """Each Markdown page of docs/ is reachable from the navigation, exactly once."""
    pages = _pages(_nav())
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(pages) == on_disk
    assert len(pages) == len(set(pages))


def test_migrations_guide_names_every_table() -> None:
    """The migrations guide lists each table of `authmanager.metadata`, and no other."""
    for capability in CAPABILITIES:  # each registers its tables when imported
        importlib.import_module(capability)
    guide = (DOCS / "guides" / "migrations.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(authmanager_[a-z_]+)`", guide))
    assert named == set(metadata.tables)


def test_environment_names_follow_one_scheme() -> None:
    """Each field's variable is its name upper-cased after JWT_ (token settings) or AUTH_."""
    for name, field in AuthSettings.model_fields.items():
        alias = field.validation_alias
        first = alias if isinstance(alias, str) else alias.choices[0]  # type: ignore[union-attr]
        prefix = "JWT_" if name in JWT_FIELDS else "AUTH_"
        assert first == prefix + name.upper(), (name, first)


def test_configuration_page_explains_sources_and_scheme() -> None:
    """The page documents `.env`, the secrets directory and the naming scheme."""
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert "`.env`" in page
    assert "_env_file=None" in page
    assert "## Environment names" in page
    assert "AUTH_REFRESH_COOKIE_NAME" in page
