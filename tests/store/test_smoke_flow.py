"""A first end-to-end pass over the core methods, on every database."""

from __future__ import annotations

import pytest

from authmanager import AuthManager, RevokedTokenError
from tests.app import User


async def test_pair_verify_refresh_and_revoke(manager: AuthManager[User], user: User) -> None:
    """A pair verifies and rotates; once its successor has moved on, the old one is refused."""
    pair = await manager.create_token_pair({"sub": str(user.id), "role": "x"})
    payload = await manager.verify_token(pair.access_token)
    assert payload.sub == str(user.id)
    assert payload["role"] == "x"
    new = await manager.refresh(pair.refresh_token)
    assert (await manager.verify_token(new.access_token))["role"] == "x"
    newer = await manager.refresh(new.refresh_token)
    assert (await manager.verify_token(newer.access_token))["role"] == "x"
    with pytest.raises(RevokedTokenError):
        await manager.refresh(pair.refresh_token)
