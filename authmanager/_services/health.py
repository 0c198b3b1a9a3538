"""HealthService: does the token store answer?"""

from __future__ import annotations

from sqlalchemy import select

from authmanager._core.database import Database
from authmanager._core.models import tokens

__all__ = ["HealthService"]


class HealthService:
    """Ask the token store one cheap question, for health checks.

    Args:
        database: The token store's database.
    """

    def __init__(self, *, database: Database) -> None:
        self._database = database

    async def check(self) -> None:
        """Read one row of the token table: the database answers and the tables exist.

        Raises:
            TokenStoreUnavailableError: the database failed, or the tables are missing.
        """
        async with self._database.connection() as db:
            await db.execute(select(tokens.c.jti).limit(1))
