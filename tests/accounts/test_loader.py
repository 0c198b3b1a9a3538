"""SQLAlchemyUserLoader: the optional methods its model's columns allow, and no more."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import Integer, String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authmanager.loaders import SQLAlchemyUserLoader
from tests.accounts.support import AccountUsers
from tests.app import User


class OtherBase(DeclarativeBase):
    pass


class Minimal(OtherBase):
    """A model with a login and a hash, no is_verified."""

    __tablename__ = "minimal_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    hashed_password: Mapped[str] = mapped_column(String(255))


class NoPassword(OtherBase):
    """A model of passwordless users."""

    __tablename__ = "nopassword_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))


def test_methods_follow_the_columns() -> None:
    """create_user needs hashed_password, set_verified needs is_verified; set_login always."""
    full = SQLAlchemyUserLoader(User)
    minimal = SQLAlchemyUserLoader(Minimal, login_field="username")
    bare = SQLAlchemyUserLoader(NoPassword)
    for name in ("create_user", "set_login", "set_verified"):
        assert inspect.iscoroutinefunction(getattr(full, name)), name
    assert inspect.iscoroutinefunction(getattr(minimal, "create_user", None))
    assert getattr(minimal, "set_verified", None) is None
    assert getattr(bare, "create_user", None) is None
    assert getattr(bare, "set_verified", None) is None
    assert inspect.iscoroutinefunction(bare.set_login)


@pytest.mark.parametrize(
    "fields",
    [("hashed_password",), ("is_active",), ("is_verified",), ("email",), ("id",), ("nope",)],
    ids=["hash", "is_active", "is_verified", "login", "key", "not-a-column"],
)
def test_register_fields_cannot_name_protected_or_unknown_columns(
    fields: tuple[str, ...],
) -> None:
    """A register_fields entry that would let a client set a protected column is refused."""
    with pytest.raises(TypeError, match="register_fields"):
        SQLAlchemyUserLoader(User, register_fields=fields)


async def test_create_set_login_and_set_verified_write_the_row(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The three writes land in the caller's transaction and keep the object in step."""
    users = AccountUsers()
    async with session_factory() as db, db.begin():
        user = await users.create_user(db, "Bob@Example.com", "hash", {"display_name": "Bob"})
        assert user.id is not None
    async with session_factory() as db, db.begin():
        await users.set_login(db, user, "robert@example.com")
        await users.set_verified(db, user)
    assert (user.email, user.is_verified) == ("robert@example.com", True)
    assert users.login_of(user) == "robert@example.com"
    async with session_factory() as db:
        stored = await users.get_user_by_login(db, "ROBERT@example.com")
        assert stored is not None
        assert (stored.id, stored.display_name, stored.is_verified, stored.hashed_password) == (
            user.id,
            "Bob",
            True,
            "hash",
        )
        assert await users.get_user_by_login(db, "bob@example.com") is None


async def test_create_user_refuses_fields_not_allowed(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Fields outside register_fields, or of the wrong type, raise ValueError."""
    users = AccountUsers()
    async with session_factory() as db, db.begin():
        with pytest.raises(ValueError, match="role"):
            await users.create_user(db, "eve@example.com", "hash", {"role": "admin"})
        with pytest.raises(ValueError, match="wrong type"):
            await users.create_user(db, "eve@example.com", "hash", {"display_name": ["x"]})
