"""The event type and the hooks accepted at construction: no login, no database."""

from __future__ import annotations

import dataclasses

import pytest

from authmanager.hooks import AuthEvent, EventName
from tests.support.events import FIELDS
from tests.support.factories import MakeManager


def test_event_has_no_field_for_a_secret_and_is_frozen() -> None:
    """AuthEvent has exactly the contract's fields, and none can be reassigned."""
    from datetime import UTC, datetime

    assert {f.name for f in dataclasses.fields(AuthEvent)} == FIELDS
    event = AuthEvent(name=EventName.LOGOUT, at=datetime.now(UTC))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.user_id = "x"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        event.token = "x"  # type: ignore[attr-defined]


def test_a_hook_that_is_not_callable_is_refused_at_construction(
    make_manager: MakeManager,
) -> None:
    """A non-callable in `hooks=` fails when the manager is built, naming the protocol."""
    with pytest.raises(TypeError, match="takes one AuthEvent"):
        make_manager(hooks=[object()])
