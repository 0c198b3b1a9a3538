"""The built documentation in Chromium: the settings tables never break a name mid-word.

Builds the site with `mkdocs build --strict` (the `docs` extra) and measures the rendered
configuration page at a desktop and a phone width. Skipped when mkdocs, Playwright or
Chromium is missing, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
#: Code spans of the first column (variable and field names), and the lines each takes.
LINES_OF_NAMES = """() => [...document.querySelectorAll('.md-typeset table td:first-child code')]
    .filter(code => !/\\s/.test(code.textContent))
    .map(code => [code.textContent, code.getClientRects().length])"""


def _skip_or_fail(problem: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the docs browser test cannot run: {problem}")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation, built strictly into a temporary directory."""
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        _skip_or_fail("mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        _skip_or_fail(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_settings_tables_keep_every_name_on_one_line(site: Path, browser: Any, width: int) -> None:
    """Each environment variable and field name of the settings tables is one line."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto((site / "configuration" / "index.html").as_uri())
    spans = page.evaluate(LINES_OF_NAMES)
    page.close()
    names = {text for text, _ in spans}
    assert {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "AUTH_REFRESH_TOKEN_TRANSPORT"} <= names
    broken = [text for text, lines in spans if lines != 1]
    assert broken == []
