"""The package imports and a manager builds without any optional extra installed.

Each extra's libraries are made unimportable in a fresh interpreter (a `None` entry in
`sys.modules` makes `import` raise ImportError), as on a machine that installed only
`pip install authmanager`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

EXTRAS = ["httpx2", "authlib", "pyotp", "segno", "webauthn", "aiosmtplib", "redis", "asyncpg"]

PROGRAM = textwrap.dedent(
    """
    import sys
    for name in {extras!r}:
        sys.modules[name] = None
    import asyncio
    from sqlalchemy import String
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
    from authmanager import AuthManager, AuthSettings, SQLAlchemyUserLoader

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(String(320), unique=True)
        hashed_password: Mapped[str] = mapped_column(String(200))

    async def main() -> None:
        engine = create_async_engine("sqlite+aiosqlite:///:memory:")
        auth = AuthManager(
            settings=AuthSettings(secret_key="k" * 40, _env_file=None),
            session_factory=async_sessionmaker(engine),
            user_loader=SQLAlchemyUserLoader(User),
        )
        await auth.create_tables(engine)
        await auth.aclose()
        await engine.dispose()
        print("ok", sorted(n for n in {extras!r} if sys.modules.get(n) is not None))

    asyncio.run(main())
    """
)


def test_core_install_needs_no_extra() -> None:
    """`import authmanager` and a default manager touch none of the extras' libraries."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(extras=EXTRAS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok []"
