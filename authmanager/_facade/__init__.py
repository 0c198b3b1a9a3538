"""The contract's methods of `AuthManager`, one mixin per group, each delegating to a service.

Each mixin declares the services it uses; `AuthManager.__init__` (the composition root)
sets them.
"""
