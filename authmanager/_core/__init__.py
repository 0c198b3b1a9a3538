"""Primitives: settings, keys, the token codec, the store, hashing, limits, events.

Nothing here imports a service, the HTTP layer or the manager (import-linter checks).
"""
