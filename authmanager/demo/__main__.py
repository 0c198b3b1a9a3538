"""`python -m authmanager.demo`: serve the demo API with uvicorn on a SQLite file."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m authmanager.demo",
        description="Serve the authmanager demo API (Swagger UI at /docs, a test page at /).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    parser.add_argument(
        "--db",
        default="./authmanager-demo.db",
        help="SQLite file, or an async SQLAlchemy URL (default %(default)s)",
    )
    parser.add_argument(
        "--password", default=None, help="the demo user's password (default: a random one)"
    )
    return parser


def _db_url(db: str) -> str:
    if "://" in db:
        return db
    return f"sqlite+aiosqlite:///{Path(db).expanduser().resolve()}"


def main(argv: list[str] | None = None) -> int:
    """Parse *argv*, print the demo credentials, and serve until interrupted."""
    args = _parser().parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        print(
            "The demo needs uvicorn: pip install 'authmanager[demo]'.",
            file=sys.stderr,
        )
        return 1
    from authmanager.demo.app import DEMO_EMAIL, create_app

    password = args.password or secrets.token_urlsafe(12)
    base = f"http://{args.host}:{args.port}"
    if os.environ.get("AUTH_OIDC_PROVIDERS") and "AUTH_OIDC_REDIRECT_BASE_URL" not in os.environ:
        # The providers send the browser back to this demo's own callback.
        os.environ["AUTH_OIDC_REDIRECT_BASE_URL"] = base
    app = create_app(_db_url(args.db), password=password)
    settings = app.state.auth.settings
    lines = [
        "authmanager demo",
        f"  database:  {_db_url(args.db)}",
        f"  login:     {DEMO_EMAIL}",
        f"  password:  {password}",
        f"  Swagger:   {base}/docs  (Authorize with the login above)",
        f"  test page: {base}/",
    ]
    for name in settings.oidc_providers:
        lines.append(
            f"  provider:  {name} (register the callback "
            f"{settings.oidc_redirect_base_url}{settings.route_prefix}/oidc/{name}/callback)"
        )
    if not settings.cookie_secure:
        lines.append(
            "  note: cookies are not marked Secure because the demo serves plain http "
            "(set AUTH_COOKIE_SECURE=true behind https)."
        )
    if "JWT_SECRET_KEY" not in os.environ:
        lines.append("  note: a random JWT secret was drawn; tokens end when the demo stops.")
    print("\n".join(lines), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
