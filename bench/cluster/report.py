"""Figures of a cluster run as tables, and the verdict on its invariants."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["fault_row", "passed", "render"]


def fault_row(mix: dict[str, Any], start: float, end: float, note: str) -> dict[str, Any]:
    """Summarise one fault run: errors by kind, wrong acceptances, recovery, sessions lost."""
    failures = mix["failures"]
    by_code: Counter[str] = Counter(f[4] for f in failures)
    before = [f for f in failures if f[1] < start]
    after = [f for f in failures if f[0] >= end]
    recovery = max((f[1] for f in after), default=end) - end
    return {
        "fault_s": round(end - start, 2),
        "requests": mix["requests"],
        "errors": dict(by_code),
        "errors_before_fault": len(before),
        "errors_after_fault": len(after),
        "recovery_s": round(recovery, 2),
        "wrong_acceptances": len(mix["wrong_acceptances"]),
        "sessions_lost": len(mix["sessions_lost"]),
        "lost_detail": mix["sessions_lost"][:5],
        "missing_retry_after": mix["missing_retry_after"],
        "unexpected_401": mix["unexpected_401"],
        "unexpected_detail": mix.get("unexpected_detail", []),
        "same_pair_again": mix.get("same_pair_again", 0),
        "note": note,
        # Anything but 503/timeout/reset, with its times relative to the fault's start.
        "other_failures": [
            [round(f[0] - start, 2), round(f[1] - start, 2), *f[2:]]
            for f in failures
            if f[4] not in ("503", "timeout", "conn")
        ],
    }


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def _statuses(values: list[Any]) -> str:
    out: list[str] = []
    for value in values:
        if out and out[-1].split("x")[0] == str(value):
            head, _, count = out[-1].partition("x")
            out[-1] = f"{head}x{int(count or 1) + 1}"
        else:
            out.append(str(value))
    return " ".join(out)


def render(results: dict[str, Any]) -> str:
    parts: list[str] = []
    if "demo" in results:
        d = results["demo"]
        parts.append("## Demo, --workers 2 on both hosts (one PostgreSQL)\n")
        parts.append(
            _table(
                ["answers", "B printed A's password"],
                [
                    [
                        ", ".join(f"{k}: {v}" for k, v in sorted(d["counts"].items())),
                        d.get("b_printed_password"),
                    ]
                ],
            )
        )
    if "nodelay" in results:
        n = results["nodelay"]
        parts.append("\n## uvicorn --workers 2: kept-alive GET /pid, p50 of 50\n")
        parts.append(
            _table(
                ["TCP_NODELAY on accepted sockets", "host A", "host B"],
                [
                    [
                        {"0": "no (uvicorn as is)", "1": "yes (bench app sets it)"}[k],
                        _ms(v["a"]),
                        _ms(v["b"]),
                    ]
                    for k, v in n.items()
                ],
            )
        )
    if "stale" in results:
        parts.append(
            "\n## Pooled connections after a PostgreSQL restart (5 s idle, 40 "
            "sequential /me, new connection each, both hosts)\n"
        )
        rows = [
            [
                s["pre_ping"],
                _statuses(s["before"]["statuses"]),
                _statuses(s["after"]["statuses"]),
                _ms(s["before"]["p50"]),
                _ms(s["after"]["p50"]),
            ]
            for s in results["stale"]
        ]
        parts.append(
            _table(
                ["pool_pre_ping", "before restart", "after restart", "p50 before", "p50 after"],
                rows,
            )
        )
    if "revocation" in results:
        parts.append(
            "\n## Revocation through A, refusal on B (seconds from A's answer to B's first 401)\n"
        )
        rows = []
        for mode, kinds in results["revocation"].items():
            for kind, r in kinds.items():
                rows.append(
                    [
                        mode,
                        kind,
                        r["trials"],
                        _ms(r["p50"]),
                        _ms(r["p99"]),
                        _ms(r["max"]),
                        r["accepted_after"],
                        f"{r['polls'] / r['trials']:.2f}",
                        r["listeners_dropped"],
                        _ms(r.get("warm_p50")),
                    ]
                )
        parts.append(
            _table(
                [
                    "state cache",
                    "revocation",
                    "trials",
                    "p50",
                    "p99",
                    "max",
                    "B accepted after",
                    "polls/trial",
                    "LISTEN dropped",
                    "B /me 200 p50",
                ],
                rows,
            )
        )
    if "ratelimit" in results:
        parts.append("\n## Failed logins for one name (limit 5/15 minutes): answers in order\n")
        parts.append(
            _table(
                ["storage, hosts", "answers"],
                [[k, _statuses(v)] for k, v in results["ratelimit"].items()],
            )
        )
    for key in [k for k in results if k.startswith("faults")]:
        parts.append(f"\n## {key.capitalize()}: bounded load from both hosts (8 users)\n")
        rows = []
        for fault, r in results[key].items():
            errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "none"
            rows.append(
                [
                    fault,
                    r["fault_s"],
                    r["requests"],
                    errors,
                    r["errors_before_fault"],
                    r["wrong_acceptances"],
                    r["recovery_s"],
                    r["sessions_lost"],
                    r["missing_retry_after"],
                    r["unexpected_401"],
                    r.get("same_pair_again", 0),
                ]
            )
        parts.append(
            _table(
                [
                    "fault",
                    "fault s",
                    "requests",
                    "failed answers by kind",
                    "before fault",
                    "wrong acc.",
                    "recovery s",
                    "sessions lost",
                    "503 w/o Retry-After",
                    "unexp. 401",
                    "same pair again",
                ],
                rows,
            )
        )
    if "soak" in results:
        s = results["soak"]
        mix = s["mix"]
        parts.append(f"\n## Soak, {s['seconds'] / 60:.1f} min, both hosts\n")
        codes = Counter(f[4] for f in mix["failures"])
        parts.append(
            _table(
                [
                    "requests",
                    "req/s",
                    "failed answers",
                    "wrong acc.",
                    "sessions lost",
                    "/me p50",
                    "/me p99",
                ],
                [
                    [
                        mix["requests"],
                        f"{mix['requests'] / s['seconds']:.0f}",
                        dict(codes) or "none",
                        len(mix["wrong_acceptances"]),
                        len(mix["sessions_lost"]),
                        _ms(mix["me_p50"]),
                        _ms(mix["me_p99"]),
                    ]
                ],
            )
        )
        samples = s["samples"]
        if samples:
            workers = sorted({w for row in samples for w in row["rss"]})
            step = max(1, len(samples) // 12)
            rows = [
                [row["t"], *[_mib(row["rss"].get(w)) for w in workers], row["db"]]
                for row in samples[::step] + ([samples[-1]] if len(samples) % step else [])
            ]
            parts.append("\nRSS per worker (MiB) and connections to the bench database:\n")
            if s.get("env_b"):
                parts.append(f"(host B's workers ran with {s['env_b']})\n")
            parts.append(_table(["t s", *workers, "db conns"], rows))
            last = samples[-1].get("threads", {})
            if last:
                parts.append(f"\nthreads per worker at the end: {last}")
            parts.append("\n" + _growth(samples, workers))
        if s.get("objects_start") and s.get("objects_end"):
            parts.append("\nPython objects per worker, soak start -> end (largest growth):\n")
            parts.append(_objects(s["objects_start"], s["objects_end"]))
    if "check" in results:
        ch = results["check"]
        parts.append("\n## Invariants at the end\n")
        parts.append(
            _table(
                [
                    "refresh rotated twice",
                    "sessions with 2 live refresh",
                    "logouts (200)",
                    "... not in force",
                    "rotations",
                    "... not revoked",
                    "sessions lost",
                    "... after a commit",
                    "HTTP re-check",
                ],
                [
                    [
                        ch["refresh_rotated_twice"],
                        ch["sessions_with_two_live_refresh"],
                        ch["logouts"],
                        ch["logouts_not_in_force"],
                        ch["rotations"],
                        ch["rotated_not_revoked"],
                        ch.get("sessions_lost"),
                        ch.get("lost_after_commit"),
                        ch["http_sample"],
                    ]
                ],
            )
        )
    parts.append(
        f"\nelapsed: {results.get('elapsed_s')} s; verdict: {'PASS' if passed(results) else 'FAIL'}"
    )
    return "\n".join(parts)


def _objects(start: dict[str, Any], end: dict[str, Any]) -> str:
    rows = []
    for key, last in sorted(end.items()):
        first = start.get(key)
        if first is None:
            continue
        grow = Counter(last["objects"])
        grow.subtract(first["objects"])
        top = ", ".join(f"{k} {v:+d}" for k, v in grow.most_common(4) if v)
        rows.append(
            [
                key,
                first["total"],
                last["total"],
                first["blocks"],
                last["blocks"],
                first["tasks"],
                last["tasks"],
                top or "-",
            ]
        )
    return _table(
        ["worker", "objects", "-> end", "blocks", "-> end", "tasks", "-> end", "top growth"], rows
    )


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def _growth(samples: list[dict[str, Any]], workers: list[str]) -> str:
    """MiB per minute over the first and the second half of the soak, per worker."""
    half = len(samples) // 2
    out = []
    for w in workers:
        points = [(row["t"], row["rss"].get(w)) for row in samples if row["rss"].get(w)]
        if len(points) < 4:
            continue
        h = len(points) // 2
        rates = []
        for seg in (points[:h], points[h - 1 :]):
            (t0, r0), (t1, r1) = seg[0], seg[-1]
            rates.append((r1 - r0) / 1024 / max((t1 - t0) / 60, 1e-9))
        out.append(f"{w}: {rates[0]:+.2f} MiB/min first half, {rates[1]:+.2f} second half")
    del half
    return "growth: " + "; ".join(out)


def passed(results: dict[str, Any]) -> bool:
    """The invariants: no wrong acceptance, no double rotation, logouts in force, and no
    session lost to a fault after its rotation had committed."""
    ok = True
    check = results.get("check")
    if check is None:
        return False
    ok &= check["refresh_rotated_twice"] == 0
    ok &= check["sessions_with_two_live_refresh"] == 0
    ok &= check["logouts_not_in_force"] == 0
    ok &= check["rotated_not_revoked"] == 0
    ok &= not any(k.endswith(" 200") for k in check["http_sample"])
    ok &= check["lost_after_commit"] == 0
    for key in [k for k in results if k.startswith("faults")]:
        for row in results[key].values():
            ok &= row["wrong_acceptances"] == 0 and "500" not in row["errors"]
    soak = results.get("soak")
    if soak is not None:
        ok &= not soak["mix"]["wrong_acceptances"]
    for mode, kinds in results.get("revocation", {}).items():
        for kind in kinds.values():
            ok &= kind["trials"] > 0
            if mode == "off":
                ok &= kind["accepted_after"] == 0
            if "LISTEN dropped" in mode:  # each trial really dropped the listeners
                ok &= kind["listeners_dropped"] >= kind["trials"]
    return bool(ok)
