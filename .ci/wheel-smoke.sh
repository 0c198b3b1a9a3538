#!/usr/bin/env bash
# Build the sdist and the wheel, check them as PyPI would, install the wheel (with the demo
# extra) in a fresh virtual environment, and import the demo from it, outside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
ls "$work/dist"
python -m twine check --strict "$work"/dist/*
python3 -m venv "$work/venv"
wheel=$(ls "$work"/dist/*.whl)
"$work/venv/bin/pip" install -q "${wheel}[demo]" 2>&1 | grep -v "WARNING: Location" || true
cd "$work"  # nothing of the checkout on sys.path
env -u PYTHONPATH "$work/venv/bin/python" - "$work/venv" <<'PY'
import sys
from pathlib import Path

import authmanager
from authmanager.demo import create_app

venv = Path(sys.argv[1]).resolve()
assert Path(authmanager.__file__).resolve().is_relative_to(venv), authmanager.__file__
app = create_app("sqlite+aiosqlite:///:memory:")
assert app.title == "authmanager demo"
print(f"authmanager {authmanager.__version__} from the wheel: the demo imports and builds")
PY
"$work/venv/bin/python" -m authmanager.demo --help >/dev/null
"$work/venv/bin/python" -m authmanager secret >/dev/null
