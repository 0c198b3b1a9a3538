"""The harness's verdicts: how a fault run is summarised and when a run fails."""

from __future__ import annotations

from typing import Any

from bench.cluster.report import fault_row, passed, render


def _mix(failures: list[tuple[float, float, str, str, str]], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "requests": 100,
        "failures": failures,
        "wrong_acceptances": [],
        "sessions_lost": [],
        "missing_retry_after": 0,
        "unexpected_401": 0,
    }
    base.update(extra)
    return base


def test_recovery_is_the_last_failure_started_after_the_fault() -> None:
    """Failures in the fault window do not count; one started after it sets the recovery."""
    failures = [
        (10.5, 10.6, "a", "me", "503"),  # during the fault
        (12.4, 12.9, "b", "refresh", "503"),  # before the fault ended, answered after
        (13.0, 13.7, "a", "me", "503"),  # after: recovery runs to its answer
    ]
    row = fault_row(_mix(failures), start=10.0, end=12.5, note="")
    assert row["recovery_s"] == 1.2
    assert row["errors"] == {"503": 3}
    assert row["errors_before_fault"] == 0
    assert row["errors_after_fault"] == 1


def test_no_failure_after_the_fault_is_zero_recovery() -> None:
    row = fault_row(_mix([(1.0, 1.1, "a", "me", "timeout")]), start=0.5, end=2.0, note="n")
    assert row["recovery_s"] == 0.0
    assert row["errors_before_fault"] == 0
    assert row["note"] == "n"


def _results(**faults: dict[str, Any]) -> dict[str, Any]:
    return {
        "check": {
            "refresh_rotated_twice": 0,
            "sessions_with_two_live_refresh": 0,
            "logouts": 2,
            "logouts_not_in_force": 0,
            "rotations": 3,
            "rotated_not_revoked": 0,
            "http_sample": {"rotated 401": 3},
            "lost_after_commit": 0,
        },
        "faults": faults,
    }


def test_a_wrong_acceptance_or_a_500_fails_the_run() -> None:
    """The invariants: zero wrong acceptances, no 500, no rotated token accepted."""
    clean = fault_row(_mix([]), start=0, end=1, note="")
    assert passed(_results(x=clean))
    wrong = fault_row(_mix([], wrong_acceptances=["rotated-refresh accepted by b"]), 0, 1, "")
    assert not passed(_results(x=wrong))
    five = fault_row(_mix([(0.5, 0.6, "a", "me", "500")]), start=0, end=1, note="")
    assert not passed(_results(x=five))
    accepted = _results(x=clean)
    accepted["check"]["http_sample"] = {"rotated 200": 1}
    assert not passed(accepted)
    assert not passed({})  # no check ran


def test_a_session_lost_after_a_commit_fails_the_run() -> None:
    """A retry refused after its rotation had committed cost a session: the run fails."""
    results = _results(x=fault_row(_mix([]), start=0, end=1, note=""))
    assert passed(results)
    results["check"]["lost_after_commit"] = 1
    assert not passed(results)


def test_listen_dropped_trials_must_really_drop() -> None:
    """A LISTEN-dropped row whose trials dropped nothing measured nothing: the run fails."""
    row = {"trials": 5, "accepted_after": 0, "listeners_dropped": 10}
    results = _results(x=fault_row(_mix([]), start=0, end=1, note=""))
    results["revocation"] = {"postgres, LISTEN dropped": {"logout": row}}
    assert passed(results)
    row["listeners_dropped"] = 0
    assert not passed(results)


def test_render_prints_every_section_it_has() -> None:
    results = _results(x=fault_row(_mix([]), start=0, end=1, note=""))
    text = render(results)
    assert "## Faults" in text
    assert "## Invariants at the end" in text
    assert "verdict: PASS" in text
