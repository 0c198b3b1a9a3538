"""The configuration page and `AuthSettings` agree, field by field."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from authmanager import AuthSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_settings", DOCS / "gen_settings.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_table_matches_settings() -> None:
    """The committed table is exactly what AuthSettings generates (run docs/gen_settings.py)."""
    gen = _generator()
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert gen.page_table(page) == gen.render_table()


def test_every_field_has_env_var_and_description() -> None:
    """Each setting is documented: an environment variable and a description."""
    gen = _generator()
    table = gen.page_table((DOCS / "configuration.md").read_text(encoding="utf-8"))
    for name, field in AuthSettings.model_fields.items():
        assert field.description, name
        assert field.validation_alias is not None, name
        assert f"| `{gen.env_names(name)[0]}`<br>`{name}`" in table
