"""SecretBox: TOTP secrets encrypted at rest with a rotating set of Fernet keys."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from authmanager.exceptions import TokenStoreUnavailableError

__all__ = ["SecretBox"]

logger = logging.getLogger("authmanager.mfa")


class SecretBox:
    """Encrypt with the first key, decrypt with any (`cryptography`'s `MultiFernet`).

    Rotation: put a new key first in `AUTH_MFA_ENCRYPTION_KEYS`, keep the old ones after
    it, re-encrypt the stored secrets (`MfaService.rotate_secrets()`), then drop the old
    keys. A secret that no configured key opens fails closed.

    Args:
        keys: Fernet keys, the first one encrypting.
    """

    def __init__(self, keys: Sequence[SecretStr]) -> None:
        if not keys:
            raise ValueError("SecretBox needs at least one Fernet key.")
        fernets = [Fernet(key.get_secret_value()) for key in keys]
        self._primary = fernets[0]
        self._ring = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        """Return *plaintext* encrypted under the first key."""
        return self._ring.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the plaintext of *token*.

        Raises:
            TokenStoreUnavailableError: no configured key opens it (a key was removed
                too early, or the row was altered); nothing can be verified.
        """
        try:
            return self._ring.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            pass
        logger.error(
            "a stored TOTP secret cannot be decrypted with AUTH_MFA_ENCRYPTION_KEYS; "
            "was a key removed before rotate_secrets() re-encrypted it?"
        )
        raise TokenStoreUnavailableError()

    def is_current(self, token: str) -> bool:
        """Return whether *token* is encrypted under the first key already."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def rotate(self, token: str) -> str:
        """Return *token* re-encrypted under the first key.

        Raises:
            TokenStoreUnavailableError: no configured key opens it.
        """
        return self.encrypt(self.decrypt(token))
