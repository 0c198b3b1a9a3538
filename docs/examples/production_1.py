"""Production settings: refuse to start on an insecure configuration."""

import secrets

from authmanager import AuthSettings

# --8<-- [start:settings]
settings = AuthSettings(
    production=True,  # AUTH_PRODUCTION=true: the default or a short secret is refused
    secret_key=secrets.token_urlsafe(48),  # in real life: JWT_SECRET_KEY or /run/secrets
    audience="api.example.com",
    issuer="https://api.example.com",
    access_token_expire_minutes=15,
    trusted_proxies=["10.0.0.0/8"],  # only if a proxy in that network sets X-Forwarded-For
    rate_limit_storage_url="redis://redis:6379/0",  # shared by every worker
)
# --8<-- [end:settings]
