"""User loaders: how authmanager reaches the application's users.

The application owns its users. A loader is any object with the two coroutine methods
of [`UserLoader`][authmanager.loaders.UserLoader]; `SQLAlchemyUserLoader` is a ready one
for a SQLAlchemy model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.inspection import inspect as sa_inspect

__all__ = ["JoinedUser", "SQLAlchemyUserLoader", "User", "UserLoader"]


@runtime_checkable
class User(Protocol):
    """What authmanager reads from a user: `id` and `hashed_password`.

    An optional `is_active` attribute that is false rejects the user at login and on
    every protected request.
    """

    @property
    def id(self) -> Any:  # pragma: no cover - protocol
        """The user's id; `str(user.id)` becomes the token's `sub`."""
        ...

    @property
    def hashed_password(self) -> str | None:  # pragma: no cover - protocol
        """The stored password hash."""
        ...


UserT = TypeVar("UserT")
UserT_co = TypeVar("UserT_co", covariant=True)


class UserLoader(Protocol[UserT_co]):
    """The application's user look-ups.

    Both methods receive the `AsyncSession` authmanager is using, so they can share
    its transaction; they must not commit it. They return `None` for no such user.
    An optional `async def set_password_hash(self, session, user, new_hash) -> None`
    lets authmanager upgrade outdated hashes at login and `change_password` work.
    """

    async def get_user(
        self, session: AsyncSession, user_id: str
    ) -> UserT_co | None:  # pragma: no cover
        """Return the user whose id, as a string, is *user_id* (every protected request)."""
        ...

    async def get_user_by_login(
        self, session: AsyncSession, login: str
    ) -> UserT_co | None:  # pragma: no cover
        """Return the user who logs in as *login* (`/login` and `authenticate`)."""
        ...


ModelT = TypeVar("ModelT")
_USER_KEY = "authmanager_user_key"


@dataclass(frozen=True, slots=True)
class JoinedUser:
    """How to select a user row in the same statement as a token's state.

    A loader that offers `joined_user(user_id) -> JoinedUser | None` lets
    `current_user` read the token's state and the user in one round trip; the row
    must be what `get_user` would return.

    Attributes:
        entity: The mapped user class.
        onclause: The join condition; its bound parameters are named in *params*.
        params: The values of those parameters for this user.
    """

    entity: Any
    onclause: Any
    params: dict[str, Any]


#: Attributes registration can never set, whatever `register_fields` says.
_PROTECTED = frozenset({"hashed_password", "is_active", "is_verified"})


class SQLAlchemyUserLoader(Generic[ModelT]):
    """A ready loader for a SQLAlchemy ORM user model.

    Besides the two look-ups and `set_password_hash`, it has each optional method of
    the account flows that the model's columns allow: `create_user` (a
    `hashed_password` column), `set_login` (always), `set_verified` (an `is_verified`
    column), `check_fields(fields)` (the `register_fields` rule) and `login_of(user)`,
    the address the flows write to.

    Args:
        model: The mapped class, with a single-column primary key and a
            `hashed_password` attribute.
        login_field: The attribute users log in with (`"email"`, `"username"`).
        case_insensitive: Compare logins case-insensitively (lower-cased on both sides).
        register_fields: The columns `/register` may fill from its extra JSON fields;
            any other field is refused (so a client cannot set `is_active`, a role, ...).

    Raises:
        TypeError: no single-column primary key, no login column, or a
            `register_fields` entry that is not a column or is one registration must
            never set (the key, the login, `hashed_password`, `is_active`, `is_verified`).

    Example:
        ```python
        auth = AuthManager(settings=..., session_factory=...,
                           user_loader=SQLAlchemyUserLoader(User, login_field="email"))
        ```
    """

    create_user: Callable[[AsyncSession, str, str | None, Mapping[str, Any]], Awaitable[ModelT]]
    """Registration (present when the model has a `hashed_password` column)."""
    set_verified: Callable[[AsyncSession, ModelT], Awaitable[None]]
    """Mark the user verified (present when the model has an `is_verified` column)."""

    def __init__(
        self,
        model: type[ModelT],
        *,
        login_field: str = "email",
        case_insensitive: bool = True,
        register_fields: Iterable[str] = (),
    ) -> None:
        mapper = sa_inspect(model)
        primary = mapper.primary_key
        if len(primary) != 1:
            raise TypeError(f"{model.__name__} needs a single-column primary key.")
        if login_field not in mapper.columns:
            raise TypeError(f"{model.__name__} has no column {login_field!r} to log in with.")
        self.model = model
        self._pk = primary[0]
        self._pk_type: Any = self._pk.type.python_type
        self._login = mapper.columns[login_field]
        self._login_field = login_field
        self._case_insensitive = case_insensitive
        self._onclause = self._pk == bindparam(_USER_KEY)
        self._fields = frozenset(register_fields)
        columns = mapper.columns
        refused = {f for f in self._fields if f not in columns}
        refused |= self._fields & (_PROTECTED | {login_field, *(c.key for c in primary)})
        if refused:
            raise TypeError(
                f"register_fields of {model.__name__} may not name {sorted(refused)}: "
                "only other columns of the model can be filled at registration."
            )
        self._field_types = {f: columns[f].type for f in self._fields}
        if "hashed_password" in columns:
            self.create_user = self._create_user
        if "is_verified" in columns:
            self.set_verified = self._set_verified

    def _convert_id(self, user_id: str) -> Any:
        if self._pk_type is str:
            return user_id
        try:
            return self._pk_type(user_id)
        except (TypeError, ValueError):
            return None

    async def get_user(self, session: AsyncSession, user_id: str) -> ModelT | None:
        """Return the user with this primary key, or None."""
        key = self._convert_id(user_id)
        if key is None:
            return None
        return await session.get(self.model, key)

    def joined_user(self, user_id: str) -> JoinedUser | None:
        """Select the user in the token-state statement (one round trip); None: no such id.

        A subclass that overrides `get_user` (extra filters, eager loads) gets None,
        so its `get_user` is always the one that decides.
        """
        if type(self).get_user is not SQLAlchemyUserLoader.get_user:
            return None
        key = self._convert_id(user_id)
        if key is None:
            return None
        return JoinedUser(self.model, self._onclause, {_USER_KEY: key})

    async def get_user_by_login(self, session: AsyncSession, login: str) -> ModelT | None:
        """Return the user whose login column equals *login*, or None."""
        column: Any = self._login
        if self._case_insensitive:
            from sqlalchemy import func

            query = select(self.model).where(func.lower(column) == login.strip().lower())
        else:
            query = select(self.model).where(column == login)
        return (await session.execute(query)).scalars().first()

    async def set_password_hash(self, session: AsyncSession, user: ModelT, new_hash: str) -> None:
        """Store *new_hash* as the user's password hash."""
        key = getattr(user, self._pk.key)
        await session.execute(
            update(self.model).where(self._pk == key).values(hashed_password=new_hash)
        )
        setattr(user, "hashed_password", new_hash)  # noqa: B010 - keep the object in step

    async def set_login(self, session: AsyncSession, user: ModelT, new_login: str) -> None:
        """Store *new_login* as the user's login (email change)."""
        key = getattr(user, self._pk.key)
        await session.execute(
            update(self.model).where(self._pk == key).values({self._login: new_login})
        )
        setattr(user, self._login_field, new_login)

    def login_of(self, user: ModelT) -> str:
        """Return the user's login (the address the account flows write to)."""
        return str(getattr(user, self._login_field))

    def check_fields(self, fields: Mapping[str, Any]) -> None:
        """Refuse registration *fields* that are not `register_fields` or have the wrong type.

        The account flows call it before they look the login up, so invalid fields are
        refused whether or not the login is taken (no enumeration through them).

        Raises:
            ValueError: a field outside `register_fields`, or of the wrong type.
        """
        unknown = sorted(str(name)[:40] for name in fields if name not in self._fields)
        if unknown:
            raise ValueError(f"Registration does not accept the fields {unknown[:5]}.")
        for name, value in fields.items():
            if not _fits(self._field_types[name], value):
                raise ValueError(f"The field {name!r} has the wrong type.")

    async def _create_user(
        self,
        session: AsyncSession,
        login: str,
        password_hash: str | None,
        fields: Mapping[str, Any],
    ) -> ModelT:
        """Insert a user with *login*, *password_hash* and the allowed *fields*; flush it.

        Raises:
            ValueError: a field outside `register_fields`, or of the wrong type.
        """
        self.check_fields(fields)
        values = {**fields, self._login_field: login, "hashed_password": password_hash}
        user = self.model(**values)
        session.add(user)
        await session.flush()  # assigns the id; the caller's transaction commits
        return user

    async def _set_verified(self, session: AsyncSession, user: ModelT) -> None:
        """Set the user's `is_verified` column to true."""
        key = getattr(user, self._pk.key)
        await session.execute(update(self.model).where(self._pk == key).values(is_verified=True))
        setattr(user, "is_verified", True)  # noqa: B010 - keep the object in step


def _fits(column_type: Any, value: object) -> bool:
    """Whether *value* suits a column of *column_type* (None passes; the database decides)."""
    if value is None:
        return True
    try:
        expected = column_type.python_type
    except NotImplementedError:
        return True
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return True
    if expected is int and isinstance(value, bool):
        return False
    return isinstance(value, expected)
