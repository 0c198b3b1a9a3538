"""Account flows on single-use tokens: registration, email verification, password reset,
email change and sign-in links, and the messages they send."""
