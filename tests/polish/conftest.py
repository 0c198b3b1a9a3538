"""Fixtures of the polish tests: direct reads of the token tables, clients by address."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.http.support import Tables
from tests.ratelimit.conftest import client_from

__all__ = ["client_from", "tables"]


@pytest.fixture
def tables(session_factory: async_sessionmaker[AsyncSession]) -> Tables:
    """Direct reads of the token tables."""
    return Tables(session_factory)
