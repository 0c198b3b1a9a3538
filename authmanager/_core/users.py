"""The one rule on user objects that every layer applies: may this user act at all?"""

from __future__ import annotations

__all__ = ["user_is_active"]


def user_is_active(user: object) -> bool:
    """Return False only for a user whose `is_active` is explicitly false.

    The services (`authmanager._services.liveness`) and the account flows both ask
    this function, so the rule has one definition below both.
    """
    return getattr(user, "is_active", True) is not False
