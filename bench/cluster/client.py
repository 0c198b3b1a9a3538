"""The cluster's clients and checks; runs inside the `amc-ctl` namespace.

`python -m bench.cluster.client <command> --out result.json ...`:

- `mix`: virtual users (one bench user each) log in, call `/me`, rotate their refresh
  token and log out, each request on host A or B at random, for a bounded time and
  request count. Every refused-token probe that is answered 200 is a *wrong
  acceptance*, but for the token just rotated, whose unused successor the library gives
  again within the reuse grace (a retry after a lost answer, RFC 9700 §4.14): that
  answer must carry the very refresh token the client holds. A refresh that failed
  (5xx or no answer) is retried with the same token on the other host (as a load
  balancer fails over), and a retry refused with 401 is a *session lost*. Logouts and
  rotations are written to the run's ledger for `check`.
- `revocation`: log in through A, warm B, revoke through A (logout, logout-all, one
  session, password change), then poll B until it refuses; the delay and the count of
  acceptances after the revocation answered.
- `ratelimit`: failed logins for one name, spread over hosts, until 429.
- `sequential`: N sequential `/me` calls on one host (the stale-pool probe).
- `demo`: the demo served by two workers on each host: cross-host and cross-worker use.
- `check`: the invariants over the database and the ledger.

Every loop is bounded in time and in requests; only the cluster's own addresses are
used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "cluster bench password"
#: The `application_name` of a worker's state-cache LISTEN connection (the library's).
LISTENER_NAME = "authmanager-listener"
TIMEOUT = httpx.Timeout(5.0)
Clock = time.monotonic


@dataclass
class Tally:
    """What one run saw: counts by (op, status), failures with times, the verdicts."""

    counts: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[float, float, str, str, str]] = field(default_factory=list)
    wrong_acceptances: list[str] = field(default_factory=list)
    sessions_lost: list[dict[str, Any]] = field(default_factory=list)
    missing_retry_after: int = 0
    unexpected_401: int = 0
    #: (seconds since the mix started, op, host, the answer's body): what the 401s said.
    unexpected_detail: list[tuple[float, str, str, str]] = field(default_factory=list)
    same_pair_again: int = 0
    latencies: list[float] = field(default_factory=list)
    requests: int = 0

    def note(self, op: str, host: str, start: float, status: str) -> None:
        self.requests += 1
        end = Clock()
        self.counts[f"{op} {status}"] += 1
        if status[0] == "5" or not status[0].isdigit():
            self.failures.append((start, end, host, op, status))
        elif op == "me" and status == "200":
            self.latencies.append(end - start)

    def unexpected(self, started: float, op: str, host: str, body: str) -> None:
        self.unexpected_401 += 1
        self.unexpected_detail.append((round(Clock() - started, 2), op, host, body[:160]))

    def result(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "requests": self.requests,
            "counts": dict(self.counts),
            "failures": self.failures,
            "wrong_acceptances": self.wrong_acceptances,
            "sessions_lost": self.sessions_lost,
            "missing_retry_after": self.missing_retry_after,
            "unexpected_401": self.unexpected_401,
            "unexpected_detail": self.unexpected_detail[:20],
            "same_pair_again": self.same_pair_again,
            "me_p50": statistics.median(lat) if lat else None,
            "me_p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
        }


class Hosts:
    """One keep-alive client per host (so one connection, one worker per host)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.clients = {
            name: httpx.AsyncClient(base_url=url, timeout=TIMEOUT) for name, url in urls.items()
        }

    def other(self, name: str) -> str:
        names = [n for n in self.urls if n != name]
        return random.choice(names) if names else name

    async def call(
        self, tally: Tally | None, op: str, host: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        start = Clock()
        try:
            response = await self.clients[host].request(method, path, **kwargs)
        except httpx.TimeoutException:
            if tally is not None:
                tally.note(op, host, start, "timeout")
            return None
        except httpx.TransportError:
            if tally is not None:
                tally.note(op, host, start, "conn")
            return None
        if tally is not None:
            tally.note(op, host, start, str(response.status_code))
            if response.status_code == 503 and "retry-after" not in response.headers:
                tally.missing_retry_after += 1
        return response

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Ledger:
    """Appends what `check` verifies at the end: logouts that answered 200, rotations."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, **entry: Any) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps(entry) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]


@dataclass
class Session:
    access: str
    refresh: str
    sid: str
    previous: str | None = None  # the refresh token rotated into *refresh*
    previous_at: float = 0.0  # when


def _sid(token: str) -> str:
    import jwt

    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return str(claims["sid"])


def _jti(token: str) -> str:
    import jwt

    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return str(claims["jti"])


async def _login(
    hosts: Hosts, tally: Tally | None, host: str, email: str, password: str = PASSWORD
) -> Session | None:
    answer = await hosts.call(
        tally, "login", host, "POST", "/auth/login", data={"username": email, "password": password}
    )
    if answer is None or answer.status_code != 200:
        return None
    body = answer.json()
    return Session(body["access_token"], body["refresh_token"], _sid(body["access_token"]))


class Mix:
    """The load mix of `mix`; see the module docstring."""

    def __init__(
        self,
        hosts: Hosts,
        ledger: Ledger,
        deadline: float,
        max_requests: int,
        pause: float,
        grace: float = 5.0,
    ) -> None:
        self.hosts, self.ledger, self.deadline = hosts, ledger, deadline
        self.max_requests, self.pause, self.grace = max_requests, pause, grace
        self.tally = Tally()
        self.started = Clock()

    def _running(self) -> bool:
        return Clock() < self.deadline and self.tally.requests < self.max_requests

    async def _probe_refused(
        self, what: str, host: str, method: str, path: str, **kwargs: Any
    ) -> None:
        answer = await self.hosts.call(self.tally, f"probe-{what}", host, method, path, **kwargs)
        if answer is not None and answer.status_code == 200:
            self.tally.wrong_acceptances.append(f"{what} accepted by {host}")

    async def _refresh(self, s: Session, host: str) -> Session | None:
        """Rotate; on 5xx/no answer retry the same token; None when the session is gone."""
        first_failure: float | None = None
        for attempt in range(25):
            answer = await self.hosts.call(
                self.tally,
                "refresh" if attempt == 0 else "refresh-retry",
                host,
                "POST",
                "/auth/refresh",
                json={"refresh_token": s.refresh},
            )
            if answer is not None and answer.status_code == 200:
                body = answer.json()
                now = Clock()
                new = Session(body["access_token"], body["refresh_token"], s.sid, s.refresh, now)
                self.ledger.write(kind="rotated", jti=_jti(s.refresh), token=s.refresh, t=now)
                if random.random() < 0.2:
                    await self._probe_rotated(s, new, self.hosts.other(host))
                return new
            if answer is not None and answer.status_code < 500:
                if first_failure is not None:
                    # It failed, then was refused: the rotation had committed and its
                    # answer was lost; the client cannot continue the session.
                    self.ledger.write(kind="lost", jti=_jti(s.refresh), sid=s.sid, t=Clock())
                    self.tally.sessions_lost.append(
                        {
                            "sid": s.sid,
                            "jti": _jti(s.refresh),
                            "status": answer.status_code,
                            "detail": answer.text[:200],
                            "failed_at": first_failure,
                        }
                    )
                else:
                    self.tally.unexpected(self.started, "refresh", host, answer.text)
                return None
            if first_failure is None:
                first_failure = Clock()
            await asyncio.sleep(0.2)
            # The other host, as a load balancer fails over (nginx proxy_next_upstream).
            host = self.hosts.other(host)
        return None

    async def _probe_rotated(self, old: Session, new: Session, host: str) -> None:
        """Present the token just rotated, and the one before it, on *host*.

        The token just rotated has an unused successor: within the grace it may be
        answered 200 only with that same successor (what a retry after a lost answer
        gets), never another one. The one before has a used successor: always refused
        (presented only within the grace, where refusing it does not end the session).
        """
        answer = await self.hosts.call(
            self.tally,
            "probe-rotated-refresh",
            host,
            "POST",
            "/auth/refresh",
            json={"refresh_token": old.refresh},
        )
        if answer is not None and answer.status_code == 200:
            if answer.json().get("refresh_token") == new.refresh:
                self.tally.same_pair_again += 1
            else:
                self.tally.wrong_acceptances.append(f"rotated-refresh accepted by {host}")
        if old.previous is not None and Clock() - old.previous_at < self.grace - 1:
            await self._probe_refused(
                "twice-rotated-refresh",
                host,
                "POST",
                "/auth/refresh",
                json={"refresh_token": old.previous},
            )

    async def _logout(self, s: Session, host: str) -> None:
        for _ in range(25):
            answer = await self.hosts.call(
                self.tally, "logout", host, "POST", "/auth/logout", headers=_bearer(s.access)
            )
            if answer is not None and answer.status_code < 500:
                if answer.status_code == 200:
                    self.ledger.write(
                        kind="logout", sid=s.sid, access=s.access, refresh=s.refresh, t=Clock()
                    )
                    other = self.hosts.other(host)
                    await self._probe_refused(
                        "logged-out-access", other, "GET", "/me", headers=_bearer(s.access)
                    )
                    await self._probe_refused(
                        "logged-out-refresh",
                        other,
                        "POST",
                        "/auth/refresh",
                        json={"refresh_token": s.refresh},
                    )
                return
            await asyncio.sleep(0.2)

    async def user(self, index: int) -> None:
        email = f"user{index}@bench"
        session: Session | None = None
        names = list(self.hosts.urls)
        while self._running():
            host = random.choice(names)
            if session is None:
                session = await _login(self.hosts, self.tally, host, email)
                if session is None:
                    await asyncio.sleep(0.2)
                continue
            roll = random.random()
            if roll < 0.70:
                answer = await self.hosts.call(
                    self.tally, "me", host, "GET", "/me", headers=_bearer(session.access)
                )
                if answer is not None and answer.status_code == 401:
                    self.tally.unexpected(self.started, "me", host, answer.text)
                    session = None
            elif roll < 0.93:
                session = await self._refresh(session, host)
            else:
                await self._logout(session, host)
                session = None
            await asyncio.sleep(self.pause)


async def run_mix(args: argparse.Namespace) -> dict[str, Any]:
    hosts = Hosts(dict(h.split("=", 1) for h in args.host))
    ledger = Ledger(Path(args.ledger))
    start = Clock()
    mix = Mix(hosts, ledger, start + args.duration, args.max_requests, args.pause, args.grace)
    try:
        await asyncio.gather(*(mix.user(args.first_user + i) for i in range(args.users)))
    finally:
        await hosts.aclose()
    result = mix.tally.result()
    result.update(started=start, ended=Clock())
    return result


# --- revocation across hosts ----------------------------------------------------------
async def _drop_listeners(dsn: str, silent_pid: list[int]) -> int:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            LISTENER_NAME,
        )
    finally:
        await conn.close()
    return count


async def _listeners_up(dsn: str, expected: int) -> None:
    """Wait until the *expected* workers listen again; fail after 10 s."""
    import asyncpg

    deadline = Clock() + 10.0
    conn = await asyncpg.connect(dsn)
    try:
        while Clock() < deadline:
            have = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                LISTENER_NAME,
            )
            if have >= expected:
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise RuntimeError(f"fewer than {expected} state-cache listeners after 10 s")


async def _one_trial(
    kind: str, a: httpx.AsyncClient, b: httpx.AsyncClient, email: str, password: str
) -> tuple[float, int, int, str, float]:
    """(seconds from A's answer to B's first refusal, acceptances after it, polls, password,
    the last warm-up request's latency on B)."""
    hosts = Hosts({})
    hosts.clients = {"a": a, "b": b}
    acting = await _login(hosts, None, "a", email, password)
    target = acting
    if kind in ("revoke_session", "password", "logout_all"):
        target = await _login(hosts, None, "a", email, password)
    assert acting is not None, "login failed"
    assert target is not None, "login failed"
    warm_latency = 0.0
    for _ in range(3):  # B's worker on this connection reads (and may cache) the state
        began = Clock()
        warm = await b.get("/me", headers=_bearer(target.access))
        warm_latency = Clock() - began
        assert warm.status_code == 200, warm.text
    if kind == "logout":
        answer = await a.post("/auth/logout", headers=_bearer(acting.access))
    elif kind == "logout_all":
        answer = await a.post("/auth/logout-all", headers=_bearer(acting.access))
    elif kind == "revoke_session":
        answer = await a.delete(f"/auth/sessions/{target.sid}", headers=_bearer(acting.access))
    else:
        password = f"pw-{random.randrange(1 << 30)}"
        answer = await a.post(
            "/password", data={"new_password": password}, headers=_bearer(acting.access)
        )
    done = Clock()
    assert answer.status_code in (200, 204), answer.text
    accepted = polls = 0
    while Clock() - done < 15:
        polls += 1
        seen = await b.get("/me", headers=_bearer(target.access))
        if seen.status_code == 401:
            return Clock() - done, accepted, polls, password, warm_latency
        assert seen.status_code == 200, seen.text
        accepted += 1
        await asyncio.sleep(0.001)
    return Clock() - done, accepted, polls, password, warm_latency


async def run_revocation(args: argparse.Namespace) -> dict[str, Any]:
    urls = dict(h.split("=", 1) for h in args.host)
    out: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(base_url=urls["a"], timeout=TIMEOUT) as a,
        httpx.AsyncClient(base_url=urls["b"], timeout=TIMEOUT) as b,
    ):
        if args.drop_listeners:
            # A worker starts listening on its first request: the two workers these
            # kept-alive connections reach must be listening before the first drop.
            session = await _login(Hosts({"a": urls["a"]}), None, "a", "user0@bench")
            assert session is not None, "login failed"
            for client in (a, b):
                await client.get("/me", headers=_bearer(session.access))
            await _listeners_up(args.dsn, 2)
        for offset, kind in enumerate(args.kinds):
            email, password = f"user{args.first_user + offset}@bench", PASSWORD
            delays, stale, polls, drops, warm = [], 0, 0, 0, []
            for _ in range(args.trials):
                dropped = 0
                if args.drop_listeners:
                    dropped = await _drop_listeners(args.dsn, [])
                    drops += dropped
                delay, accepted, count, password, warm_s = await _one_trial(
                    kind, a, b, email, password
                )
                delays.append(delay)
                warm.append(warm_s)
                stale += accepted
                polls += count
                if args.drop_listeners:  # listening again before the next trial
                    await _listeners_up(args.dsn, dropped)
            if kind == "password":  # leave the user as the mix expects it
                session = await _login(Hosts({"a": urls["a"]}), None, "a", email, password)
                assert session is not None
                await a.post(
                    "/password", data={"new_password": PASSWORD}, headers=_bearer(session.access)
                )
            delays.sort()
            out[kind] = {
                "trials": len(delays),
                "p50": statistics.median(delays),
                "p99": delays[min(len(delays) - 1, int(len(delays) * 0.99))],
                "max": delays[-1],
                "accepted_after": stale,
                "polls": polls,
                "listeners_dropped": drops,
                "warm_p50": statistics.median(warm),
            }
    return out


# --- rate limit, sequential probe, demo ------------------------------------------------
async def run_ratelimit(args: argparse.Namespace) -> dict[str, Any]:
    urls = [h.split("=", 1)[1] for h in args.host]
    statuses = []
    for i in range(args.attempts):
        # A new connection for each attempt: uvicorn's workers take turns accepting.
        async with httpx.AsyncClient(base_url=urls[i % len(urls)], timeout=TIMEOUT) as c:
            answer = await c.post(
                "/auth/login", data={"username": args.login, "password": "wrong password"}
            )
            statuses.append(answer.status_code)
    return {"statuses": statuses}


async def run_sequential(args: argparse.Namespace) -> dict[str, Any]:
    url = dict(h.split("=", 1) for h in args.host)
    async with httpx.AsyncClient(base_url=next(iter(url.values())), timeout=TIMEOUT) as c:
        answer = await c.post(
            "/auth/login", data={"username": f"user{args.first_user}@bench", "password": PASSWORD}
        )
        token = answer.json()["access_token"] if answer.status_code == 200 else ""
    if args.phase == "login":
        return {"token": token}
    raise SystemExit("unknown phase")


async def run_probe(args: argparse.Namespace) -> dict[str, Any]:
    """`args.count` sequential GET /me with `args.token`, each on a new connection."""
    urls = [h.split("=", 1)[1] for h in args.host]
    statuses, latencies = [], []
    for i in range(args.count):
        async with httpx.AsyncClient(base_url=urls[i % len(urls)], timeout=TIMEOUT) as c:
            start = Clock()
            try:
                answer = await c.get("/me", headers=_bearer(args.token))
                statuses.append(answer.status_code)
                latencies.append(Clock() - start)
            except httpx.TransportError as exc:
                statuses.append(type(exc).__name__)
    return {"statuses": statuses, "p50": statistics.median(latencies) if latencies else None}


async def run_keepalive(args: argparse.Namespace) -> dict[str, Any]:
    """`args.count` sequential GET /pid on one kept-alive connection per host."""
    out: dict[str, Any] = {}
    for name, url in (h.split("=", 1) for h in args.host):
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as c:
            latencies = []
            for _ in range(args.count):
                start = Clock()
                answer = await c.get("/pid")
                assert answer.status_code == 200
                latencies.append(Clock() - start)
        out[name] = statistics.median(latencies)
    return out


async def run_objects(args: argparse.Namespace) -> dict[str, Any]:
    """`/_bench/objects` of every worker (new connections until each pid answered)."""
    out: dict[str, Any] = {}
    for name, url in (h.split("=", 1) for h in args.host):
        for _ in range(40):
            async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30.0)) as c:
                body = (await c.get("/_bench/objects")).json()
            out[f"{name}:{body['pid']}"] = body
            if sum(1 for k in out if k.startswith(f"{name}:")) >= 2:
                break
    return out


async def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    urls = [h.split("=", 1)[1] for h in args.host]
    out: Counter[str] = Counter()
    pw = args.password
    tokens = []
    for i in range(8):
        async with httpx.AsyncClient(base_url=urls[i % len(urls)], timeout=TIMEOUT) as c:
            answer = await c.post(
                "/auth/login", data={"username": "demo@example.com", "password": pw}
            )
            out[f"login {answer.status_code}"] += 1
            if answer.status_code == 200:
                tokens.append(answer.json()["access_token"])
    for token in tokens:
        for url in urls:
            for _ in range(3):
                async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as c:
                    answer = await c.get("/me", headers=_bearer(token))
                    out[f"me {answer.status_code}"] += 1
    return {"counts": dict(out)}


# --- invariants -------------------------------------------------------------------------
async def run_check(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    ledger = Ledger(Path(args.ledger)).read()
    conn = await asyncpg.connect(args.dsn)
    try:
        double = await conn.fetchval(
            "SELECT count(*) FROM (SELECT parent_jti FROM authmanager_tokens "
            "WHERE parent_jti IS NOT NULL GROUP BY parent_jti HAVING count(*) > 1) t"
        )
        two_live = await conn.fetchval(
            "SELECT count(*) FROM (SELECT session_id FROM authmanager_tokens "
            "WHERE type = 'refresh' AND revoked_at IS NULL AND expires_at > now() "
            "GROUP BY session_id HAVING count(*) > 1) t"
        )
        logouts = [e["sid"] for e in ledger if e["kind"] == "logout"]
        not_in_force = await conn.fetchval(
            "SELECT count(*) FROM authmanager_sessions s "
            "WHERE s.id = ANY($1::text[]) AND s.revoked_at IS NULL",
            logouts,
        )
        rotated = [e["jti"] for e in ledger if e["kind"] == "rotated"]
        unrevoked = await conn.fetchval(
            "SELECT count(*) FROM authmanager_tokens "
            "WHERE jti = ANY($1::text[]) AND revoked_at IS NULL",
            rotated,
        )
        tokens = await conn.fetchval("SELECT count(*) FROM authmanager_tokens")
        lost = [e["jti"] for e in ledger if e["kind"] == "lost"]
        lost_rows = await conn.fetch(
            "SELECT t.revoke_reason, t.replaced_by IS NOT NULL AS rotated, s.revoked_at IS NULL "
            "AS session_live, s.revoke_reason AS session_reason FROM authmanager_tokens t "
            "JOIN authmanager_sessions s ON s.id = t.session_id WHERE t.jti = ANY($1::text[])",
            lost,
        )
    finally:
        await conn.close()
    # Past the reuse grace of the last rotation, a rotated token is refused whatever
    # became of its successor (within it, an unused successor may be given again).
    last = max((e["t"] for e in ledger if e["kind"] == "rotated"), default=0.0)
    await asyncio.sleep(max(0.0, last + args.grace + 1 - Clock()))
    urls = [h.split("=", 1)[1] for h in args.host]
    accepted = Counter()
    sample = [e for e in ledger if e["kind"] in ("rotated", "logout")]
    random.shuffle(sample)
    async with (
        httpx.AsyncClient(base_url=urls[0], timeout=TIMEOUT) as a,
        httpx.AsyncClient(base_url=urls[-1], timeout=TIMEOUT) as b,
    ):
        for i, entry in enumerate(sample[: args.sample]):
            client = (a, b)[i % 2]
            if entry["kind"] == "rotated":
                answer = await client.post("/auth/refresh", json={"refresh_token": entry["token"]})
                accepted[f"rotated {answer.status_code}"] += 1
            else:
                answer = await client.get("/me", headers=_bearer(entry["access"]))
                accepted[f"logged-out access {answer.status_code}"] += 1
                answer = await client.post(
                    "/auth/refresh", json={"refresh_token": entry["refresh"]}
                )
                accepted[f"logged-out refresh {answer.status_code}"] += 1
    return {
        "refresh_rotated_twice": double,
        "sessions_with_two_live_refresh": two_live,
        "logouts": len(logouts),
        "logouts_not_in_force": not_in_force,
        "rotations": len(rotated),
        "rotated_not_revoked": unrevoked,
        "http_sample": dict(accepted),
        "token_rows": tokens,
        "sessions_lost": len(lost),
        "lost_after_commit": sum(1 for r in lost_rows if r["rotated"]),
        "lost_detail": [dict(r) for r in lost_rows][:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster.client")
    parser.add_argument(
        "command",
        choices=[
            "mix",
            "revocation",
            "ratelimit",
            "login",
            "probe",
            "demo",
            "check",
            "keepalive",
            "objects",
        ],
    )
    parser.add_argument("--host", action="append", default=[], help="name=url")
    parser.add_argument("--out", required=True)
    parser.add_argument("--ledger", default="ledger.jsonl")
    parser.add_argument("--dsn", default="")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--first-user", type=int, default=0)
    parser.add_argument("--pause", type=float, default=0.03)
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help="the apps' JWT_REFRESH_REUSE_GRACE_SECONDS (mix: probes; check: waits it out)",
    )
    parser.add_argument(
        "--kinds", nargs="*", default=["logout", "logout_all", "revoke_session", "password"]
    )
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--drop-listeners", action="store_true")
    parser.add_argument("--attempts", type=int, default=12)
    parser.add_argument("--login", default="nobody@bench")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--token", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--phase", default="login")
    args = parser.parse_args()
    runner = {
        "mix": run_mix,
        "revocation": run_revocation,
        "ratelimit": run_ratelimit,
        "login": run_sequential,
        "probe": run_probe,
        "demo": run_demo,
        "keepalive": run_keepalive,
        "objects": run_objects,
        "check": run_check,
    }[args.command]
    result = asyncio.run(runner(args))
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
