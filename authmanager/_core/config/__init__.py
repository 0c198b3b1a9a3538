"""Settings of each capability, as mixins that `AuthSettings` composes.

Each capability keeps its own fields here (one module each), so adding one never edits
another's; `authmanager._core.settings.AuthSettings` inherits them all.
"""
