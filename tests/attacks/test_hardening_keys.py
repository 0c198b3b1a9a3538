"""Issue 11, item 3: every key that can verify meets the rules of the signing key.

In 0.1 the production guard looked at `secret_key` only: with `previous_keys` holding
the public default secret, anyone could re-sign a live token with it and add
`"scopes": ["admin"]`. Now a weak verifying key is refused in production and warned
about elsewhere, like the signing key.
"""

from __future__ import annotations

import warnings

import jwt
import pytest
from pydantic import ValidationError

from authmanager import AuthSettings
from authmanager._core.settings import DEFAULT_SECRET, InsecureSettingsWarning
from authmanager.testing import TEST_SECRET
from tests.app import User, make_app
from tests.conftest import MakeManager, bearer, client_for, login
from tests.support.keys import private_pem, public_pem
from tests.support.tokens import parts

STRONG = "s" * 48


@pytest.mark.parametrize(
    ("previous", "message"),
    [
        pytest.param(
            [DEFAULT_SECRET], "JWT_PREVIOUS_KEYS\\[0\\] is the development default", id="default"
        ),
        pytest.param(
            [STRONG, "short-old-key"], "JWT_PREVIOUS_KEYS\\[1\\] is shorter than 32", id="short"
        ),
    ],
)
def test_production_refuses_a_weak_previous_key(previous: list[str], message: str) -> None:
    """`production=True` with a strong current secret and a weak previous one does not start."""
    with pytest.raises(ValidationError, match=message):
        AuthSettings(production=True, secret_key=TEST_SECRET, previous_keys=previous)


def test_production_refuses_a_weak_previous_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same through `JWT_PREVIOUS_KEYS`, as a deployment sets it."""
    monkeypatch.setenv("AUTH_PRODUCTION", "true")
    monkeypatch.setenv("JWT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("JWT_PREVIOUS_KEYS", f"{STRONG},{DEFAULT_SECRET}")
    with pytest.raises(ValidationError, match="development default"):
        AuthSettings()


@pytest.mark.parametrize("production", [True, False])
def test_empty_previous_key_is_refused_everywhere(production: bool) -> None:
    """An empty HMAC key verifies what anyone signs: refused in every mode."""
    with pytest.raises(ValidationError, match="JWT_PREVIOUS_KEYS\\[0\\] is empty"):
        AuthSettings(production=production, secret_key=TEST_SECRET, previous_keys=[""])


@pytest.mark.parametrize("where", ["secret_key", "previous_keys"])
def test_a_pem_key_is_refused_as_an_hmac_secret(where: str) -> None:
    """A (public) PEM key as an HS* secret is key confusion waiting to happen: refused."""
    pem = public_pem(private_pem("RS256"))
    values: dict[str, object] = {"secret_key": TEST_SECRET}
    values[where] = pem if where == "secret_key" else [pem]
    with pytest.raises(ValidationError, match="PEM key"):
        AuthSettings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("previous", "message"),
    [
        pytest.param(
            [DEFAULT_SECRET],
            "JWT_PREVIOUS_KEYS\\[0\\], which is the development default",
            id="default",
        ),
        pytest.param(
            ["short-old-key"], "JWT_PREVIOUS_KEYS\\[0\\], which is shorter than 32", id="short"
        ),
    ],
)
def test_weak_previous_key_warns_outside_production(
    make_manager: MakeManager, previous: list[str], message: str
) -> None:
    """Development still starts, with an `InsecureSettingsWarning` naming the key."""
    with pytest.warns(InsecureSettingsWarning, match=message):
        make_manager(previous_keys=previous)


def test_short_signing_secret_warns_outside_production(make_manager: MakeManager) -> None:
    """A short signing secret is warned about too (production refuses it)."""
    with pytest.warns(InsecureSettingsWarning, match="JWT_SECRET_KEY that is shorter than 32"):
        make_manager(secret_key="dev-secret")


def test_strong_previous_keys_start_silently(make_manager: MakeManager) -> None:
    """Strong previous keys neither warn nor fail, in production or not."""
    AuthSettings(production=True, secret_key=TEST_SECRET, previous_keys=[STRONG])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_manager(previous_keys=[STRONG])


# PyJWT itself warns about the 11-byte key, on both sides; that warning is not the point.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_the_attack_the_guard_stops(make_manager: MakeManager, user: User) -> None:
    """Why it is refused: a default previous key lets anyone re-sign a live token as admin."""
    with pytest.warns(InsecureSettingsWarning):
        auth = make_manager(previous_keys=[DEFAULT_SECRET])
    async with client_for(make_app(auth)) as client:
        access = (await login(client)).json()["access_token"]
        assert (await client.get("/admin", headers=bearer(access))).status_code == 403
        header, claims = parts(access)
        default_kid = auth._keys.kids[1]  # a hash of the public default: anyone computes it
        claims["scopes"] = ["read", "admin"]
        forged = jwt.encode(
            claims, DEFAULT_SECRET, algorithm="HS256", headers={**header, "kid": default_kid}
        )
        response = await client.get("/admin", headers=bearer(forged))
        assert response.status_code == 200, response.text  # hence: production refuses to start
