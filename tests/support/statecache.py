"""State-cache checks: verify until a token is served from memory, or refused."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import AuthManager, RevokedTokenError
from tests.app import User
from tests.support.factories import claims
from tests.support.spies import counting


async def served_from_cache(auth: AuthManager[User], engine: AsyncEngine, token: str) -> None:
    """Verify *token* until a verification sends no statement (at most 5 s)."""
    for _ in range(500):
        await auth.verify_token(token)
        with counting(engine) as sent:
            await auth.verify_token(token)
        if not sent.sent:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the state cache never served the token")


async def cached_token(auth: AuthManager[User], engine: AsyncEngine, user: User) -> str:
    """Issue an access token and verify it until it is served from the cache."""
    token = (await auth.create_token_pair(claims(user))).access_token
    await served_from_cache(auth, engine, token)
    return token


async def refused(auth: AuthManager[User], token: str) -> None:
    """Assert that *token* is now refused as revoked."""
    with pytest.raises(RevokedTokenError):
        await auth.verify_token(token)
