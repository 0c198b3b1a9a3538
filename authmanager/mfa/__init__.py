"""Second factors: TOTP with recovery codes, and passkeys (WebAuthn)."""
