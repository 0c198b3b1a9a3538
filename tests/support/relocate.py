"""Rewrite imports of the old helper locations to `tests.support` (for branches merged later).

Until 0.2 the helpers lived beside the tests (`tests/core/conftest.py`,
`tests/http/support.py`, `tests/attacks/conftest.py`, ...). A branch written against that
layout merges through the renames, but its imports must follow; this rewrites them:

    python -m tests.support.relocate tests/attacks/test_new.py ...

It prints the files it changed and fails on a name it does not know. Run `ruff check
--fix` afterwards to sort the imports. Delete this module once no branch needs it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

#: Old module -> {name: (new module under tests.support, new name)}.
MOVED: dict[str, dict[str, tuple[str, str]]] = {
    "tests.attacks.conftest": {
        "Victim": ("attacks", "Victim"),
        "assert_401": ("attacks", "assert_401"),
        "b64": ("tokens", "b64"),
        "unb64": ("tokens", "unb64"),
        "parts": ("tokens", "parts"),
        "forge": ("tokens", "forge"),
        "resign": ("tokens", "resign"),
        "hand_sign": ("tokens", "hand_sign"),
        "compact": ("tokens", "compact"),
        "rejected": ("events", "rejected"),
        "nothing_reported": ("events", "nothing_reported"),
        "Snapshot": ("rows", "Snapshot"),
        "snapshot": ("rows", "snapshot"),
    },
    "tests.core.conftest": {
        "T0": ("clock", "T0"),
        "frozen": ("clock", "frozen"),
        "claims": ("factories", "claims"),
        "token_rows": ("rows", "token_rows"),
        "session_rows": ("rows", "session_rows"),
        "count": ("rows", "count"),
    },
    "tests.http.support": {
        "claims": ("tokens", "claims"),
        "Tables": ("rows", "Tables"),
        "bearer": ("http", "bearer"),
        "csrf_headers": ("http", "csrf_headers"),
        "login": ("http", "login"),
        "client_for": ("http", "client_for"),
        "SetCookie": ("http", "SetCookie"),
        "set_cookies": ("http", "set_cookies"),
        "Session": ("http", "Session"),
        "logged_in": ("http", "logged_in"),
    },
    "tests.http.test_demo": {"_free_port": ("http", "free_port")},
    "tests.binding.support": {
        "BASE": ("dpop", "BASE"),
        "DPoPKey": ("dpop", "DPoPKey"),
        "b64": ("tokens", "b64"),
        "claims": ("tokens", "claims"),
        "session_row": ("rows", "session_row"),
        "proof_rows": ("rows", "proof_rows"),
    },
    "tests.hooks.support": {
        "AGENT": ("events", "AGENT"),
        "HEADERS": ("events", "HEADERS"),
        "claims": ("tokens", "claims"),
        "resign": ("tokens", "resign"),
    },
    "tests.security.keys": {
        "ASYMMETRIC": ("keys", "ASYMMETRIC"),
        "private_pem": ("keys", "private_pem"),
        "public_pem": ("keys", "public_pem"),
    },
    "tests.ratelimit.conftest": {
        "Client": ("http", "Client"),
        "HashSpy": ("spies", "HashSpy"),
    },
    "tests.perf.conftest": {
        "Statements": ("spies", "Statements"),
        "counting": ("spies", "counting"),
    },
    "tests.perf.test_state_cache": {
        "claims": ("factories", "claims"),
        "cached_token": ("statecache", "cached_token"),
        "served_from_cache": ("statecache", "served_from_cache"),
        "refused": ("statecache", "refused"),
    },
    "tests.docs.conftest": {
        "EXAMPLES": ("docs", "EXAMPLES"),
        "Load": ("docs", "Load"),
        "add_user": ("docs", "add_user"),
        "create_tables": ("docs", "create_tables"),
    },
}

IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from (?P<module>tests\.[\w.]+) import (?P<names>\([^)]*\)|[^\n]+)\n", re.M
)


def rewrite(source: str, where: str) -> str:
    """Return *source* with every import from a moved module pointed at `tests.support`."""

    def replace(match: re.Match[str]) -> str:
        moved = MOVED.get(match["module"])
        if moved is None:
            return match[0]
        groups: dict[str, list[str]] = {}
        for item in match["names"].strip("()").replace("\n", " ").split(","):
            name, _, alias = (part.strip() for part in item.strip().partition(" as "))
            if not name:
                continue
            if name not in moved:
                raise SystemExit(f"{where}: {match['module']}.{name} has no known new home")
            module, new = moved[name]
            local = alias or name
            groups.setdefault(module, []).append(new if new == local else f"{new} as {local}")
        return "".join(
            f"{match['indent']}from tests.support.{module} import {', '.join(names)}\n"
            for module, names in sorted(groups.items())
        )

    return IMPORT.sub(replace, source)


def main(paths: list[str]) -> None:
    for path in map(Path, paths):
        source = path.read_text()
        changed = rewrite(source, str(path))
        if changed != source:
            path.write_text(changed)
            print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
