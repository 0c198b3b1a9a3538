"""The caller's factors over HTTP: TOTP enrollment, listing, renaming, removal, recovery codes."""

from __future__ import annotations

from typing import Any

import pytest

from authmanager import AuthManager
from authmanager.mfa.enrollment import MAX_FACTORS
from authmanager.mfa.tables import factors, recovery_codes
from authmanager.testing import CapturingHook
from tests.app import User
from tests.conftest import MakeManager, bearer, client_for
from tests.mfa.authenticator import SoftwareAuthenticator
from tests.mfa.conftest import mfa_app
from tests.mfa.http_support import MFA_SETTINGS, MfaClient, session_token
from tests.mfa.support import code_at, leaked, rows


async def test_a_totp_enrollment_is_shown_once_and_inactive_until_confirmed(
    api: MfaClient, user: User, session_factory: Any
) -> None:
    """POST /factors/totp: secret, otpauth URI and QR SVG, no-store; the login stays one step."""
    token = await api.token()
    begun = await api.begin_totp(token, label="Phone")
    enrollment = begun.json()
    login_meanwhile = await api.login()
    listed = await api.factors(token)
    (stored,) = await rows(session_factory, factors, id=enrollment["factor_id"])
    assert begun.status_code == 200, begun.text
    assert begun.headers["cache-control"] == "no-store"
    assert set(enrollment) == {"factor_id", "secret", "otpauth_uri", "qr_svg"}
    assert enrollment["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={enrollment['secret']}" in enrollment["otpauth_uri"]
    assert enrollment["qr_svg"].lstrip().startswith("<svg")
    assert login_meanwhile.status_code == 200  # a pending enrollment is no factor yet
    assert listed == []
    assert stored.confirmed_at is None
    assert enrollment["secret"] not in (stored.secret or "")  # encrypted at rest


async def test_confirming_totp_activates_it_and_gives_ten_codes_once(
    api: MfaClient, mfa_manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """A wrong code is 400; the right one gives ten recovery codes; a second TOTP none."""
    token = await api.token()
    enrollment = (await api.begin_totp(token)).json()
    code = code_at(enrollment["secret"])
    other = f"{(int(code) + 5) % 10**6:06d}"
    wrong = await api.confirm_totp(token, enrollment["factor_id"], other)
    unknown = await api.confirm_totp(token, "no-such-factor", code)
    confirmed = await api.confirm_totp(token, enrollment["factor_id"], code)
    twice = await api.confirm_totp(token, enrollment["factor_id"], code)
    second = (await api.begin_totp(token, label="Tablet")).json()
    second_codes = await api.confirm_totp(token, second["factor_id"], code_at(second["secret"]))
    listed = await api.factors(token)
    assert wrong.status_code == 400, wrong.text
    assert (wrong.json()["error"], wrong.json()["reason"]) == ("invalid_grant", "wrong_code")
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"] == "unknown_factor"
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.headers["cache-control"] == "no-store"
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert twice.status_code == 404, twice.text
    assert second_codes.json() == {"recovery_codes": []}  # the first ten stay valid
    assert [(f["kind"], f["label"]) for f in listed] == [("totp", None), ("totp", "Tablet")]
    assert set(listed[0]) == {"id", "kind", "label", "created_at", "last_used_at"}
    await mfa_manager.drain_events()
    added = events.of("factor.added")
    assert [e.extra["kind"] for e in added] == ["totp", "totp"]
    assert leaked(events.events, enrollment["secret"], second["secret"], code, *codes) == []


async def test_adding_factors_and_new_codes_need_a_fresh_login(api: MfaClient, user: User) -> None:
    """A refreshed (not fresh) token: 401 `not_fresh` for TOTP, passkeys, codes, removal."""
    fresh = await api.token()
    totp = await api.enroll_totp(fresh)
    session_token(await api.verify(await api.mfa_token(), code=totp.next_code()))
    stale = await api.refreshed()
    answers = [
        await api.begin_totp(stale),
        await api.http.post("/auth/passkeys/register/options", headers=bearer(stale)),
        await api.new_recovery_codes(stale),
        await api.remove(stale, totp.factor_id),
    ]
    assert [r.status_code for r in answers] == [401] * 4
    assert {r.json()["reason"] for r in answers} == {"not_fresh"}
    assert [f["id"] for f in await api.factors(stale)] == [totp.factor_id]


async def test_new_recovery_codes_replace_the_old_ones(
    api: MfaClient, mfa_manager: AuthManager[User], user: User, events: CapturingHook
) -> None:
    """Without a factor: 409 `no_factor`; with one: ten new codes, the old refused."""
    token = await api.token()
    none_yet = await api.new_recovery_codes(token)
    totp = await api.enroll_totp(token)
    renewed = await api.new_recovery_codes(token)
    fresh_codes = renewed.json()["recovery_codes"]
    old = await api.verify(await api.mfa_token(), recovery_code=totp.recovery_codes[0])
    new = await api.verify(await api.mfa_token(), recovery_code=fresh_codes[0])
    assert none_yet.status_code == 409, none_yet.text
    assert none_yet.json()["error"] == "no_factor"
    assert renewed.status_code == 200, renewed.text
    assert len(fresh_codes) == 10
    assert not set(fresh_codes) & set(totp.recovery_codes)
    assert old.status_code == 401, old.text
    assert new.status_code == 200, new.text
    await mfa_manager.drain_events()
    assert events.last("factor.added").extra == {"kind": "recovery_codes", "count": 10}
    assert leaked(events.events, *fresh_codes, *totp.recovery_codes) == []


async def test_factors_are_renamed_with_a_clean_label(api: MfaClient, user: User) -> None:
    """PATCH /factors/{id}: the factor back, control characters dropped; long 422; unknown 404."""
    token = await api.token()
    totp = await api.enroll_totp(token)
    path = f"/auth/factors/{totp.factor_id}"
    renamed = await api.http.patch(path, json={"label": "  Work phone "}, headers=bearer(token))
    control = await api.http.patch(path, json={"label": "bad\u0000label"}, headers=bearer(token))
    long = await api.http.patch(path, json={"label": "x" * 101}, headers=bearer(token))
    unknown = await api.http.patch("/auth/factors/nope", json={"label": "x"}, headers=bearer(token))
    cleared = await api.http.patch(path, json={"label": None}, headers=bearer(token))
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["id"], renamed.json()["label"]) == (totp.factor_id, "Work phone")
    assert control.json()["label"] == "badlabel"
    assert long.status_code == 422, long.text
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"] == "unknown_factor"
    assert cleared.json()["label"] is None


async def test_removing_the_last_factor_brings_back_the_one_step_login(
    api: MfaClient,
    mfa_manager: AuthManager[User],
    user: User,
    events: CapturingHook,
    session_factory: Any,
    authenticator: SoftwareAuthenticator,
) -> None:
    """Remove a passkey (not last), then the TOTP (last): codes deleted, /login gives tokens."""
    token = await api.token()
    totp = await api.enroll_totp(token)
    passkey = (await api.register_passkey(token, authenticator)).json()
    unknown = await api.remove(token, "no-such-factor")
    first = await api.remove(token, passkey["id"])
    still_two_step = await api.login()
    last = await api.remove(token, totp.factor_id)
    again = await api.remove(token, totp.factor_id)
    one_step = await api.login()
    assert unknown.status_code == 404, unknown.text
    assert (first.status_code, last.status_code) == (204, 204)
    assert still_two_step.status_code == 403
    assert still_two_step.json()["factors"] == ["totp", "recovery_code"]
    assert again.status_code == 404
    assert one_step.status_code == 200, one_step.text
    assert await rows(session_factory, recovery_codes, user_id=str(user.id)) == []
    await mfa_manager.drain_events()
    removed = events.of("factor.removed")
    assert [(e.extra["kind"], e.extra["last"]) for e in removed] == [
        ("passkey", False),
        ("totp", True),
    ]


async def test_a_user_holds_at_most_twenty_factors(
    api: MfaClient, mfa_manager: AuthManager[User], user: User
) -> None:
    """The twenty-first factor: 409 `too_many_factors` for TOTP and passkeys alike."""
    token = await api.token()
    authenticators = [SoftwareAuthenticator(origin="https://example.com") for _ in range(20)]
    for each in authenticators[:MAX_FACTORS]:
        assert (await api.register_passkey(token, each)).status_code == 201
    totp = await api.begin_totp(token)
    passkey = await api.http.post("/auth/passkeys/register/options", headers=bearer(token))
    assert (totp.status_code, passkey.status_code) == (409, 409)
    assert {totp.json()["error"], passkey.json()["error"]} == {"too_many_factors"}


@pytest.mark.parametrize(
    ("off", "routes"),
    [
        (
            {"mfa_totp_enabled": False},
            [("POST", "/auth/factors/totp"), ("POST", "/auth/factors/totp/x/confirm")],
        ),
        (
            {"webauthn_rp_id": None, "webauthn_origins": []},
            [
                ("POST", "/auth/passkeys/register/options"),
                ("POST", "/auth/passkeys/register"),
                ("POST", "/auth/passkeys/login/options"),
                ("POST", "/auth/passkeys/login"),
                ("POST", "/auth/mfa/passkey-options"),
            ],
        ),
    ],
    ids=["totp-off", "passkeys-off"],
)
async def test_routes_of_a_kind_that_is_off_answer_404(
    make_manager: MakeManager, user: User, off: dict[str, Any], routes: list[tuple[str, str]]
) -> None:
    """Mounted always (the API's shape is fixed), answering 404 `mfa_unavailable` when off."""
    manager = make_manager(**{**MFA_SETTINGS, **off})
    async with client_for(mfa_app(manager)) as http:
        token = await MfaClient(http).token()
        body = {"mfa_token": "t", "code": "1"}
        answers = [
            await http.request(method, path, json=body, headers=bearer(token))
            for method, path in routes
        ]
        listed = await http.get("/auth/factors", headers=bearer(token))
    await manager.aclose()
    assert [r.status_code for r in answers] == [404] * len(routes), [r.text for r in answers]
    assert {r.json()["error"] for r in answers} == {"mfa_unavailable"}
    assert listed.json() == []


async def test_the_openapi_document_declares_every_route_and_its_errors(
    api: MfaClient,
) -> None:
    """Each second-factor route is in /openapi.json with the library's error answers."""
    paths = (await api.http.get("/openapi.json")).json()["paths"]
    expected = {
        ("/auth/mfa/verify", "post"): {"401", "422", "429"},
        ("/auth/mfa/passkey-options", "post"): {"401", "404", "409"},
        ("/auth/factors", "get"): {"401"},
        ("/auth/factors/{factor_id}", "delete"): {"401", "404"},
        ("/auth/factors/{factor_id}", "patch"): {"401", "404", "422"},
        ("/auth/factors/totp", "post"): {"401", "404", "409"},
        ("/auth/factors/totp/{factor_id}/confirm", "post"): {"400", "401", "404", "429"},
        ("/auth/factors/recovery-codes", "post"): {"401", "409"},
        ("/auth/passkeys/register/options", "post"): {"401", "404", "409"},
        ("/auth/passkeys/register", "post"): {"400", "401", "404", "409"},
        ("/auth/passkeys/login/options", "post"): {"404", "429"},
        ("/auth/passkeys/login", "post"): {"401", "403", "404"},
    }
    for (path, method), codes in expected.items():
        declared = set(paths[path][method]["responses"])
        assert codes <= declared, (path, method, declared)
    login_403 = paths["/auth/login"]["post"]["responses"]["403"]["content"]["application/json"]
    assert login_403["schema"]["$ref"].endswith("/MfaRequiredBody")
