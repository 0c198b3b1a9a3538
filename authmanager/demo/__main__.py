"""`python -m authmanager.demo`: serve the demo API with uvicorn on a SQLite file.

`--workers N` serves it from N processes (uvicorn's `--factory` mode on the same
database: they share the secret and password stored there by the first one).
"""

from __future__ import annotations

import argparse
import os
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
        default=os.environ.get("DATABASE_URL", "./authmanager-demo.db"),
        help="SQLite file, or an async SQLAlchemy URL (default: $DATABASE_URL, else %(default)s)",
    )
    parser.add_argument(
        "--password",
        default=None,
        help="the demo user's password (default: the one stored by an earlier run, else random)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (default %(default)s)"
    )
    return parser


def _db_url(db: str) -> str:
    if "://" in db:
        return db
    return f"sqlite+aiosqlite:///{Path(db).expanduser().resolve()}"


def _link_templates(base: str) -> None:
    """Point the account links at this demo's own pages, unless the environment says."""
    for name, page in [
        ("AUTH_VERIFY_EMAIL_URL", "verify-email"),
        ("AUTH_RESET_PASSWORD_URL", "reset-password"),
        ("AUTH_CHANGE_EMAIL_URL", "confirm-email"),
        ("AUTH_LOGIN_LINK_URL", "login-link"),
    ]:
        # The token in the fragment: never sent to a server, never in a Referer.
        os.environ.setdefault(name, f"{base}/{page}#token={{token}}")


def main(argv: list[str] | None = None) -> int:
    """Parse *argv*, print the demo credentials, and serve until interrupted."""
    args = _parser().parse_args(argv)
    _link_templates(f"http://{args.host}:{args.port}")
    try:
        import uvicorn
    except ImportError:
        print(
            "The demo needs uvicorn: pip install 'authmanager[demo]'.",
            file=sys.stderr,
        )
        return 1
    from authmanager.demo.app import DB_URL_ENV, DEMO_EMAIL, create_app, demo_settings
    from authmanager.demo.shared import shared_secrets

    url = _db_url(args.db)
    if "AUTH_WEBAUTHN_RP_ID" not in os.environ:
        # Passkeys: the page's origin on this port (read by every worker's settings).
        os.environ.setdefault("AUTH_WEBAUTHN_ORIGINS", f"http://localhost:{args.port}")
    base = f"http://{args.host}:{args.port}"
    if os.environ.get("AUTH_OIDC_PROVIDERS") and "AUTH_OIDC_REDIRECT_BASE_URL" not in os.environ:
        # The providers send the browser back to this demo's own callback (every worker
        # reads the environment).
        os.environ["AUTH_OIDC_REDIRECT_BASE_URL"] = base
    if args.workers > 1:
        shared = shared_secrets(url, password=args.password)
        password = shared.password
        settings = demo_settings(shared.secret_key, mfa_key=shared.mfa_key)
    else:
        app = create_app(url, password=args.password)
        password, settings = app.state.demo_password, app.state.auth.settings
    lines = [
        "authmanager demo",
        f"  database:  {url}",
        f"  login:     {DEMO_EMAIL}",
        f"  password:  {password}",
        f"  Swagger:   {base}/docs  (Authorize with the login above)",
        f"  routes:    {base}{settings.route_prefix}/login, /refresh, /logout, /sessions"
        " (AUTH_ROUTE_PREFIX moves them)",
        f"  test page: {base}/",
        f"  workers:   {args.workers}",
        "  account links (registration, reset, sign-in) are printed below as they are sent",
    ]
    if settings.webauthn_rp_id == "localhost":
        lines.append(
            f"  passkeys:  http://localhost:{args.port}/  (WebAuthn needs a domain name, "
            "not an IP address)"
        )
    if "AUTH_MFA_ENCRYPTION_KEYS" not in os.environ and settings.mfa_totp_enabled:
        lines.append(
            "  note: the key that encrypts TOTP secrets was drawn once and is kept in the "
            "demo database (a demo shortcut: set AUTH_MFA_ENCRYPTION_KEYS in production)."
        )
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
        lines.append(
            "  note: the JWT secret was drawn once and is kept in the demo database "
            "(a demo shortcut: set JWT_SECRET_KEY in production)."
        )
    print("\n".join(lines), flush=True)
    if args.workers > 1:
        os.environ[DB_URL_ENV] = url  # each worker's create_app() reads it
        uvicorn.run(
            "authmanager.demo.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
        )
    else:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
