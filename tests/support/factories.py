"""What tests build managers, users and token data from (the fixtures' types)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import bcrypt

from authmanager import AuthManager
from tests.app import User

#: The password of every user the `create_user` fixture makes unless told otherwise.
PASSWORD = "correct horse battery staple"

#: The `make_manager` fixture: keyword arguments override settings (and `hooks=`).
MakeManager = Callable[..., AuthManager[User]]

#: The `create_user` fixture: `(email, password, *, is_active, role, hashed_password)`.
CreateUser = Callable[..., Awaitable[User]]


def claims(user: Any, **extra: Any) -> dict[str, Any]:
    """The `data` of a token for *user*: `sub` plus custom claims."""
    return {"sub": str(user.id), **extra}


def plain_bcrypt(password: str, rounds: int = 4) -> str:
    """A legacy hash: plain bcrypt, no pre-hash."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()
