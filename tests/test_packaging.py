"""Ready to publish: the sdist and the wheel build, pass `twine check`, and say what they are."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import authmanager

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`python -m build` of the checkout: its sdist and its wheel."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_twine_check_passes(dist: dict[str, Path]) -> None:
    """PyPI's own checks (metadata, README rendering) pass for both files."""
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.values())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2


def test_wheel_metadata_names_version_classifiers_and_urls(dist: dict[str, Path]) -> None:
    """The wheel is `__version__`, with classifiers, project URLs and the README."""
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(wheel.read(info).decode())
    assert metadata["Version"] == authmanager.__version__
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Framework :: FastAPI" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert any(c.startswith("Programming Language :: Python :: 3.1") for c in classifiers)
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_content_type() == "text/plain"  # the body is the long description
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "authmanager/py.typed" in names
    assert "authmanager/demo/page.html" in names  # the demo runs from the wheel


def test_sdist_holds_sources_docs_tests_and_changelog(dist: dict[str, Path]) -> None:
    """The sdist can rebuild, test and document the package; no local caches in it."""
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE"} <= names
    assert "authmanager/__init__.py" in names
    assert "docs/quickstart.md" in names
    assert "tests/conftest.py" in names
    assert not [n for n in names if n.startswith((".venv", ".import_linter_cache", "site/"))]


def test_changelog_has_a_section_for_this_version() -> None:
    """CHANGELOG.md has `## [<__version__>] - YYYY-MM-DD` below `## [Unreleased]`."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    versions = [version for version, _ in headings]
    assert versions[0] == "Unreleased"
    assert versions[1] == authmanager.__version__
    assert headings[1][1], "the release section has a date"
