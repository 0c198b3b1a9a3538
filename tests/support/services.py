"""The services a test run may use: PostgreSQL and Redis, given by environment variables.

Without a URL the tests needing that service are not generated at all (no skip lines
that could hide a real skip); under CI=true a missing URL is a usage error.
"""

from __future__ import annotations

import os

POSTGRES_ENV = "AUTHMANAGER_TEST_POSTGRES_URL"
REDIS_ENV = "AUTHMANAGER_TEST_REDIS_URL"


def postgres_admin_url() -> str | None:
    """The PostgreSQL server URL (a database per test session is made on it), or None."""
    return os.environ.get(POSTGRES_ENV) or None


def redis_url() -> str | None:
    """The Redis database URL for the shared-storage tests, or None."""
    return os.environ.get(REDIS_ENV) or None


def databases() -> list[str]:
    """The databases each database test runs on: SQLite always, PostgreSQL when configured."""
    return ["sqlite", *(["postgres"] if postgres_admin_url() else [])]


def missing_in_ci() -> list[str]:
    """The service variables CI=true requires but the environment lacks."""
    if os.environ.get("CI") != "true":
        return []
    return [name for name in (POSTGRES_ENV, REDIS_ENV) if not os.environ.get(name)]
