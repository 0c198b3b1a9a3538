"""The email-delivery guide's Python example runs against a real SMTP server (STARTTLS)."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import text

from authmanager import metadata
from authmanager.testing import TEST_SECRET
from tests.accounts import smtp_server
from tests.accounts.smtp_server import Mailbox
from tests.conftest import PASSWORD

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"accounts_example_{name}", EXAMPLES / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_email_delivery_over_smtp(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database: str,
    starttls_server: int,
    mailbox: Mailbox,
    certificate: tuple[Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """email_delivery_1: SMTPSender from AUTH_SMTP_* (STARTTLS, AUTH) behind a custom sender."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JWT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("AUTH_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("DATABASE_URL", database)
    for name, value in {
        "AUTH_SMTP_HOST": "127.0.0.1",
        "AUTH_SMTP_PORT": str(starttls_server),
        "AUTH_SMTP_SECURITY": "starttls",
        "AUTH_SMTP_CA_FILE": str(certificate[0]),
        "AUTH_SMTP_USERNAME": smtp_server.USERNAME,
        "AUTH_SMTP_PASSWORD": smtp_server.PASSWORD,
        "AUTH_SMTP_FROM": "no-reply@app.example",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "app_models", raising=False)
    mod = load_example("email_delivery_1")
    from app_models import Base, User

    async with mod.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(metadata.create_all)
    try:
        async with mod.sessions.begin() as db:
            db.add(User(email="ada@example.com", hashed_password=mod.auth.hash_password(PASSWORD)))
        with caplog.at_level(logging.INFO, logger="app.mail"):
            await mod.auth.request_password_reset("ada@example.com")
            await mod.auth.drain_events()
        (delivered,) = mailbox.delivered
        assert (delivered.tls, delivered.authenticated) == (True, True)
        assert delivered.message["From"] == "no-reply@app.example"
        assert "reset-password#token=" in delivered.message.get_payload(decode=True).decode()
        assert "mail reset_password to user" in caplog.text
        assert "token=" not in caplog.text
    finally:
        await mod.auth.aclose()
        async with mod.engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS users"))
            for table in reversed(metadata.sorted_tables):
                await conn.execute(table.delete())
        await mod.engine.dispose()
