"""State-cache checks: a token verified until it is served from memory."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from authmanager import AuthManager
from tests.app import User
from tests.support.factories import claims
from tests.support.spies import counting


async def cached_token(auth: AuthManager[User], engine: AsyncEngine, user: User) -> str:
    """Issue an access token and verify it until it is served from the state cache."""
    pair = await auth.create_token_pair(claims(user))
    with counting(engine) as first:
        await auth.verify_token(pair.access_token)
    with counting(engine) as second:
        await auth.verify_token(pair.access_token)
    assert (len(first), len(second)) == (1, 0)
    return pair.access_token
