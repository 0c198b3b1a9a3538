"""Sign-in with OpenID Connect and OAuth 2.0 providers, and the identity links."""
