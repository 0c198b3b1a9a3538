"""Start the test OpenID provider (`tests/oidc/provider`, panva's oidc-provider) on loopback.

Shared by the identity tests (`tests/identities`) and the browser test
(`tests/browser/test_oidc_browser.py`). `.ci/oidc.sh` installs it (`npm ci` from the lock
file into `node_modules`, which git ignores); `ensure_installed()` runs that script when
the provider is missing, so a clean clone needs nothing by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = ROOT / "tests" / "oidc" / "provider"
INSTALL_SCRIPT = ROOT / ".ci" / "oidc.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_installed() -> str | None:
    """Install the provider if it is missing; return why it cannot run, or None."""
    installed = (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir()
    if shutil.which("node") is not None and installed:
        return None
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], check=False)
    if done.returncode != 0 or shutil.which("node") is None:
        return "Node.js or the test OpenID provider is missing (run .ci/oidc.sh)"
    return None


@contextmanager
def running_provider(app_base: str, log_path: Path, *, port: int | None = None) -> Iterator[str]:
    """Run `node provider.mjs` whose clients redirect to *app_base*; yield its issuer.

    *app_base* is the application's URL with its route prefix (`https://app.test/auth`).
    The provider's output goes to *log_path* (a file, not a pipe nobody reads).
    """
    port = port or free_port()
    env = {**os.environ, "PORT": str(port), "APP_BASE": app_base}
    issuer = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["node", "provider.mjs"],
            cwd=PROVIDER_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait(issuer, process, log_path)
            yield issuer
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait(issuer: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = log_path.read_text(errors="replace")
            raise RuntimeError(f"the test OpenID provider did not start: {output}")
        time.sleep(0.1)


def main() -> int:
    """`python -m tests.oidc.launcher`: install, start, check discovery, stop (for `.ci/run`)."""
    problem = ensure_installed()
    if problem is not None:
        print(f"test OpenID provider: {problem}", file=sys.stderr)
        return 1
    with (
        tempfile.TemporaryDirectory() as folder,
        running_provider("https://app.test/auth", Path(folder) / "provider.log") as issuer,
    ):
        found = httpx.get(f"{issuer}/.well-known/openid-configuration").json().get("issuer")
        if found != issuer:
            print(f"test OpenID provider: discovery names {found!r}", file=sys.stderr)
            return 1
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    print(f"test OpenID provider: oidc-provider on Node.js {node.stdout.strip()}: started, stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
