"""authmanager: stateful JWT authentication for FastAPI, done right.

```python
auth = AuthManager(settings=AuthSettings(), session_factory=factory, user_loader=MyUsers())
auth.install(app)  # the router at route_prefix (/auth), error handlers, lifespan
```
"""

from authmanager import exceptions
from authmanager._core.models import metadata
from authmanager._core.settings import AuthSettings, InsecureSettingsWarning
from authmanager._core.tokens import TokenPair, TokenPayload
from authmanager._core.types import ClientInfo, SessionInfo
from authmanager._manager import AuthManager
from authmanager._web.http import install_exception_handlers
from authmanager.exceptions import (
    AuthError,
    ExpiredTokenError,
    InvalidCredentialsError,
    InvalidTokenError,
    RateLimitExceededError,
    RevokedTokenError,
    TokenStoreUnavailableError,
)
from authmanager.hooks import AuditLogHook, AuthEvent, EventName, Hook, PrometheusHook
from authmanager.loaders import SQLAlchemyUserLoader, User, UserLoader

__version__ = "0.2.0"

__all__ = [
    "AuditLogHook",
    "AuthError",
    "AuthEvent",
    "AuthManager",
    "AuthSettings",
    "ClientInfo",
    "EventName",
    "ExpiredTokenError",
    "Hook",
    "InsecureSettingsWarning",
    "InvalidCredentialsError",
    "InvalidTokenError",
    "PrometheusHook",
    "RateLimitExceededError",
    "RevokedTokenError",
    "SQLAlchemyUserLoader",
    "SessionInfo",
    "TokenPair",
    "TokenPayload",
    "TokenStoreUnavailableError",
    "User",
    "UserLoader",
    "__version__",
    "exceptions",
    "install_exception_handlers",
    "metadata",
]
