"""Login rate limits: in memory for one process, in Redis for several workers."""

from authmanager import AuthSettings

# --8<-- [start:settings]
# One process, the defaults: 5 failed logins per 15 minutes per login name and address,
# 30 an hour per login name from every address, 200 an hour per address (an office NAT).
single = AuthSettings(
    login_rate_limit="5/15 minutes",
    login_account_rate_limit="30/hour",
    login_ip_rate_limit="200/hour",
)

# Several workers or hosts: share the counters in Redis.
shared = AuthSettings(
    login_rate_limit="10 per hour",
    refresh_rate_limit="60/minute",  # per login session, never per address
    rate_limit_storage_url="redis://localhost:6379/0",
)

# Behind a reverse proxy: believe its X-Forwarded-For, and only its.
proxied = AuthSettings(trusted_proxies=["10.0.0.0/8"])

# Off (for instance when a gateway already limits logins).
off = AuthSettings(
    login_rate_limit="",
    login_account_rate_limit="",
    login_ip_rate_limit="",
    refresh_rate_limit="",
)
# --8<-- [end:settings]
