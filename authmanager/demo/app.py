"""The demo application: a complete API protected by authmanager, on a SQLite file.

`create_app(db_url)` builds it; `python -m authmanager.demo` serves it with uvicorn. It
also runs under several workers, as a factory reading `DATABASE_URL`:
`DATABASE_URL=... uvicorn --factory authmanager.demo:create_app --workers 2`.
Its account flows (registration, email verification, password reset, sign-in links)
send their messages through `ConsoleSender`: each link is printed on the demo's
standard output, to be opened in the browser.

Its page also enrolls an authenticator app (TOTP) and registers passkeys. Passkeys need
a secure context and a domain: open the page as `http://localhost:<port>/` (localhost
is one; an IP address such as 127.0.0.1 cannot be a WebAuthn relying party id).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

import anyio.to_thread
from cryptography.fernet import Fernet
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped, mapped_column

from authmanager import AuthManager, AuthSettings
from authmanager._core.sqlite import WRITE_OPTION
from authmanager.accounts import ConsoleSender
from authmanager.demo.identities import DemoUsers, provider_buttons
from authmanager.demo.shared import DemoBase, shared_secrets

__all__ = ["DEFAULT_DB_URL", "DEMO_EMAIL", "DemoUser", "create_app", "demo_settings"]

DEMO_EMAIL = "demo@example.com"
DEFAULT_DB_URL = "sqlite+aiosqlite:///./authmanager-demo.db"
#: Environment variables `create_app()` reads when called without arguments (a factory).
DB_URL_ENV = "DATABASE_URL"
PASSWORD_ENV = "DEMO_PASSWORD"
#: The port whose `http://localhost` origin may use passkeys unless AUTH_WEBAUTHN_ORIGINS says.
DEFAULT_PORT = 8000
Base = DemoBase


class DemoUser(Base):
    """A minimal user: an email to log in with, a password hash, active and verified flags.

    An account made by a provider sign-in has no password (`hashed_password` None).
    """

    __tablename__ = "demo_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    hashed_password: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by the email verification and sign-in links (the loader's set_verified).
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)


def demo_settings(secret_key: str | None = None, *, mfa_key: str | None = None) -> AuthSettings:
    """Settings for the demo: the environment, with plain-http cookies and a shared secret.

    The demo serves plain http, so `cookie_secure` is off unless `AUTH_COOKIE_SECURE` is
    set. Without `JWT_SECRET_KEY` the secret is *secret_key* (`create_app` passes the one
    stored in the demo database, shared by every worker), or a random one when None
    (tokens end with the process).

    Second factors are on unless the environment says otherwise: TOTP, its secrets
    encrypted with *mfa_key* (a Fernet key kept in the demo database like the secret;
    `AUTH_MFA_ENCRYPTION_KEYS` wins), and passkeys for the relying party `localhost`
    from `http://localhost:8000` (`AUTH_WEBAUTHN_RP_ID` and `AUTH_WEBAUTHN_ORIGINS`
    win; `python -m authmanager.demo --port N` sets the origin of its port).
    """
    overrides: dict[str, Any] = {}
    if "AUTH_COOKIE_SECURE" not in os.environ:
        overrides["cookie_secure"] = False
    if "AUTH_REQUIRE_VERIFIED_EMAIL" not in os.environ:
        overrides["require_verified_email"] = True  # the demo shows the verification flow
    if "JWT_SECRET_KEY" not in os.environ:
        overrides["secret_key"] = secret_key or secrets.token_urlsafe(64)
    overrides.update(_second_factors(mfa_key))
    return AuthSettings(**overrides)


def _second_factors(mfa_key: str | None) -> dict[str, Any]:
    """The demo's TOTP and passkey settings, for those the environment leaves unset."""
    found: dict[str, Any] = {}
    if "AUTH_MFA_TOTP_ENABLED" not in os.environ:
        found["mfa_totp_enabled"] = True
    if "AUTH_MFA_ENCRYPTION_KEYS" not in os.environ:
        found["mfa_encryption_keys"] = [mfa_key or Fernet.generate_key().decode()]
    if "AUTH_WEBAUTHN_RP_ID" not in os.environ:
        # Chromium and Firefox treat http://localhost as a secure context: WebAuthn runs.
        found["webauthn_rp_id"] = "localhost"
        if "AUTH_WEBAUTHN_ORIGINS" not in os.environ:
            found["webauthn_origins"] = [f"http://localhost:{DEFAULT_PORT}"]
    if "AUTH_WEBAUTHN_RP_NAME" not in os.environ:
        found["webauthn_rp_name"] = "authmanager demo"
    return found


async def _ensure_demo_user(
    auth: AuthManager[DemoUser], factory: async_sessionmaker[AsyncSession], password: str
) -> None:
    """Create the demo user, or make its stored hash match *password* (idempotent).

    Every worker runs this at start-up: a hash that already verifies is left alone, so
    workers starting one after another never replace each other's hash. The user's
    address counts as verified (the demo requires verified addresses).
    """
    for _ in range(2):
        async with factory() as session:
            found = await session.scalar(select(DemoUser).where(DemoUser.email == DEMO_EMAIL))
            if (
                found is not None
                and found.is_active
                and found.is_verified
                and found.hashed_password is not None
                and await anyio.to_thread.run_sync(
                    auth.verify_password, password, found.hashed_password
                )
            ):
                return
        hashed = await auth.hash_password_async(password)
        try:
            async with factory() as session, session.begin():
                # SQLite: BEGIN IMMEDIATE, so a worker's commit between this SELECT and
                # the write makes this one wait (busy timeout) instead of failing.
                await session.connection(execution_options={WRITE_OPTION: True})
                found = await session.scalar(select(DemoUser).where(DemoUser.email == DEMO_EMAIL))
                if found is None:
                    session.add(
                        DemoUser(email=DEMO_EMAIL, hashed_password=hashed, is_verified=True)
                    )
                else:
                    found.hashed_password = hashed
                    found.is_active = True
                    found.is_verified = True
        except IntegrityError:
            continue  # another worker inserted the user at the same moment: check again
        return


def _engine(db_url: str) -> AsyncEngine:
    if db_url.startswith("sqlite"):
        return create_async_engine(db_url)
    # A pooled connection that a database restart broke is tested (and replaced) on
    # checkout instead of failing the request that draws it (see the deployment guide).
    return create_async_engine(db_url, pool_pre_ping=True)


def create_app(
    db_url: str | None = None,
    *,
    password: str | None = None,
    settings: AuthSettings | None = None,
) -> FastAPI:
    """Build the demo API on *db_url*, ready to run under several workers.

    The tables, the JWT secret (unless `JWT_SECRET_KEY` is set or *settings* are given)
    and the demo password are created or drawn once per database and stored in it: the
    first process wins and every other worker reads them, so all workers accept each
    other's tokens. At start-up (the app's lifespan) the user `demo@example.com` is
    created, or its hash made to match the password (read it from
    `app.state.demo_password`). The router is mounted at `route_prefix`
    (`AUTH_ROUTE_PREFIX`, default `/auth`).

    Args:
        db_url: An async SQLAlchemy URL, e.g. `sqlite+aiosqlite:///./demo.db`; default
            the `DATABASE_URL` environment variable, else `./authmanager-demo.db`.
        password: The demo user's password; default `DEMO_PASSWORD`, else the stored
            one (drawn at random by the first process).
        settings: The settings; default `demo_settings()` with the stored secret.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database could not be reached.
    """
    url = db_url or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL
    shared = shared_secrets(url, password=password or os.environ.get(PASSWORD_ENV) or None)
    engine = _engine(url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    auth: AuthManager[DemoUser] = AuthManager(
        settings=settings or demo_settings(shared.secret_key, mfa_key=shared.mfa_key),
        session_factory=factory,
        user_loader=DemoUsers(DemoUser, login_field="email"),
        sender=ConsoleSender(),  # links are printed on standard output
    )
    demo_password = shared.password

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await _ensure_demo_user(auth, factory, demo_password)
        yield  # auth.install's lifespan has delivered pending events and messages by now
        await auth.aclose()
        await engine.dispose()

    app = FastAPI(
        title="authmanager demo",
        description=(
            f"Log in with **{DEMO_EMAIL}** through the Authorize button, then call `/me`."
        ),
        lifespan=lifespan,
    )
    app.state.auth = auth
    app.state.demo_password = demo_password
    auth.install(app)  # the router at route_prefix, error handlers, events drained at shutdown

    @app.get("/me", summary="The logged-in user")
    async def me(user: DemoUser = Depends(auth.current_user)) -> dict[str, Any]:
        return {"id": user.id, "email": user.email}

    html = files("authmanager.demo").joinpath("page.html").read_text(encoding="utf-8")
    html = html.replace("{{PREFIX}}", auth.settings.route_prefix)
    html = html.replace("{{PROVIDERS}}", provider_buttons(auth.settings))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return html

    # The pages the account links open (the token is in their fragment, read by the page).
    for path in ("/verify-email", "/reset-password", "/confirm-email", "/login-link"):
        app.add_api_route(path, page, response_class=HTMLResponse, include_in_schema=False)

    return app
