"""The public surface: `__all__` is what the package offers; the contract names exist."""

from __future__ import annotations

import importlib.metadata
import inspect

import authmanager
from authmanager import exceptions


def test_all_names_exist_and_nothing_private_leaks() -> None:
    """Every name in __all__ resolves, and no private name is exported."""
    for name in authmanager.__all__:
        assert hasattr(authmanager, name), name
        assert not name.startswith("_") or name == "__version__"
    public = {n for n in vars(authmanager) if not n.startswith("_")}
    # Submodules imported as a side effect are not part of __all__, everything else is.
    modules = {n for n in public if inspect.ismodule(getattr(authmanager, n))}
    assert public - modules == set(authmanager.__all__) - {"__version__", "exceptions"}


def test_exception_tree_follows_the_contract() -> None:
    """Every contract exception derives from AuthError."""
    for name in [
        "InvalidTokenError",
        "ExpiredTokenError",
        "RevokedTokenError",
        "InvalidCredentialsError",
        "RateLimitExceededError",
        "TokenStoreUnavailableError",
    ]:
        assert issubclass(getattr(exceptions, name), exceptions.AuthError)


def test_version_matches_the_installed_metadata() -> None:
    """__version__ is the distribution's version."""
    assert authmanager.__version__ == importlib.metadata.version("authmanager")
