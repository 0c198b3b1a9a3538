"""Signing keys refused when the manager is built: no token, no database."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import MakeManager
from tests.support.keys import private_pem, public_pem


@pytest.mark.parametrize(
    ("algorithm", "material"),
    [
        ("RS256", lambda: public_pem(private_pem("RS256"))),
        ("RS256", lambda: private_pem("ES256")),
        ("EdDSA", lambda: private_pem("RS256")),
        ("ES256", lambda: "not a key"),
    ],
    ids=["public-as-private", "ec-for-rsa", "rsa-for-eddsa", "garbage"],
)
def test_unusable_signing_keys_are_refused(
    algorithm: str, material: Any, make_manager: MakeManager
) -> None:
    """A public key, a key of the wrong type, or garbage is refused at start-up."""
    with pytest.raises(ValueError, match="key"):
        make_manager(algorithm=algorithm, private_key=material())
