"""API keys beside sessions: long-lived, scoped credentials for scripts and integrations.

The composition root builds, per manager::

    key_format = KeyFormat(settings.api_key_prefix)
    store = ApiKeyStore()
    recorder = UsageRecorder(database=database, store=store)
    keys = ApiKeyService(database=database, store=store, key_format=key_format,
                         events=events, settings=settings)
    verifier = ApiKeyVerifier(database=database, store=store, key_format=key_format,
                              recorder=recorder, events=events, users=user_loader)

and awaits `recorder.aclose()` at shutdown.
"""

from authmanager.apikeys import tables as _tables  # noqa: F401 - registers the table
from authmanager.apikeys.keyformat import KeyFormat
from authmanager.apikeys.recorder import UsageRecorder
from authmanager.apikeys.rules import TooManyApiKeysError
from authmanager.apikeys.service import ApiKeyService, Cause
from authmanager.apikeys.store import ApiKeyStore
from authmanager.apikeys.types import ApiKeyInfo, ApiKeyPrincipal, NewApiKey, Principal
from authmanager.apikeys.verifier import ApiKeyVerifier, UserSource

__all__ = [
    "ApiKeyInfo",
    "ApiKeyPrincipal",
    "ApiKeyService",
    "ApiKeyStore",
    "ApiKeyVerifier",
    "Cause",
    "KeyFormat",
    "NewApiKey",
    "Principal",
    "TooManyApiKeysError",
    "UsageRecorder",
    "UserSource",
]
