"""Provider configurations: Google, Microsoft Entra ID, GitHub, and any OpenID provider."""

import json

# --8<-- [start:providers]
PROVIDERS = {
    # OpenID Connect: the issuer is enough, the rest comes from its discovery document.
    "google": {
        "issuer": "https://accounts.google.com",
        "client_id": "1234567890-web.apps.googleusercontent.com",
        "client_secret": "GOCSPX-your-secret",
        # The Android and iOS client ids of the same project, for the native exchange.
        "native_client_ids": [
            "1234567890-android.apps.googleusercontent.com",
            "1234567890-ios.apps.googleusercontent.com",
        ],
    },
    # One Entra ID tenant: its Directory (tenant) ID in the issuer, as the tenant's
    # discovery document spells it (a domain name or "common" would not match).
    "microsoft": {
        "issuer": "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": "your-client-secret-value",
    },
    # Plain OAuth 2.0: explicit endpoints, and where the userinfo answer keeps each fact.
    "github": {
        "authorization_endpoint": "https://github.com/login/oauth/authorize",
        "token_endpoint": "https://github.com/login/oauth/access_token",
        "userinfo_endpoint": "https://api.github.com/user",
        "client_id": "Ov23liYourClientId",
        "client_secret": "your-github-secret",
        "scopes": ["read:user", "user:email"],
        "token_endpoint_auth_method": "client_secret_post",
        # GitHub's ids are numbers; /user says nothing about the email being verified.
        "userinfo_fields": {"subject": "id", "email": "email", "email_verified": None},
    },
    # Any other OpenID provider (Keycloak, Auth0, Okta, Authentik, ...).
    "staff": {
        "issuer": "https://id.example.com/realms/staff",
        "client_id": "intranet",
        "client_secret": "your-keycloak-secret",
        "scopes": ["openid", "email", "profile"],
    },
}
# --8<-- [end:providers]

#: The same, as the value of the environment variable AUTH_OIDC_PROVIDERS.
AUTH_OIDC_PROVIDERS = json.dumps(PROVIDERS)
