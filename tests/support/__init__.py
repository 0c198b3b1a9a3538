"""Test helpers, in one place (conftest.py files hold only fixtures).

- `attacks`: the attack suite's `Victim` and `assert_401`.
- `clock`: `T0` and `frozen()` (freezegun, with asyncio on the real clock).
- `docs`: load `docs/examples/*.py` as a reader would run them.
- `dpop`: `DPoPKey`, a client's DPoP key and its proofs.
- `events`: `AGENT`/`HEADERS` for event tests, `FIELDS`, `rejected()`, `nothing_reported()`.
- `factories`: `PASSWORD`, `MakeManager`, `CreateUser`, `claims(user)`, `plain_bcrypt()`.
- `http`: `client_for`, `login`, `bearer`, `csrf_headers`, `set_cookies`, `logged_in`,
  `free_port`, `Client`.
- `keys`: throwaway PEM keys (`private_pem`, `public_pem`, `ASYMMETRIC`).
- `rows`: direct reads of the token tables (`Tables`, `token_rows`, `snapshot`, ...).
- `services`: PostgreSQL and Redis from the environment (`databases()`, `POSTGRES_ENV`).
- `spies`: `HashSpy`, SQL statement `counting()`.
- `statecache`: `served_from_cache()`, `cached_token()`, `refused()`.
- `tokens`: unverified `claims(token)`, `parts`, `forge`, `resign`, `hand_sign`, `compact`.
"""
