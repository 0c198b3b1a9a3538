"""One command for the cluster harness: `python bench/cluster/run.py [--short]`.

Builds the namespaces (`netns`), starts the run's own PostgreSQL and Redis and two
application hosts of two uvicorn workers each (`services`), drives them from the `ctl`
namespace (`client`), injects the faults, prints the tables, and removes everything
it made, also on an error or a signal. Needs root, iproute2, PostgreSQL's server
programs and redis-server (Debian: `apt-get install iproute2 postgresql redis-server`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.cluster import report
from bench.cluster.netns import HOSTS, Network, in_ns, netns_cleanup
from bench.cluster.services import (
    APP_PORT,
    ROOT,
    AppHost,
    Postgres,
    Redis,
    rss_kib,
    threads,
)

Clock = time.monotonic
#: JWT_REFRESH_REUSE_GRACE_SECONDS of the apps: above the clients' retry horizon (a 5 s
#: timeout, then a retry on the other host), as the deployment guide advises.
GRACE_SECONDS = 10


class Cluster:
    """Everything one run made, and how to drive it."""

    def __init__(self, workdir: Path, short: bool) -> None:
        self.workdir = workdir
        self.short = short
        self.net = Network()
        self.pg = Postgres(workdir)
        self.redis = Redis(workdir)
        self.ledger = workdir / "ledger.jsonl"
        self.env = {
            "CLUSTER_DB_URL": self.pg.url,
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "AUTH_REFRESH_TOKEN_TRANSPORT": "body",
            "JWT_REFRESH_REUSE_GRACE_SECONDS": str(GRACE_SECONDS),
            "AUTH_RATE_LIMIT_STORAGE_URL": self.redis.url,
            "AUTH_LOGIN_RATE_LIMIT": "5/15 minutes",
            "AUTH_REFRESH_RATE_LIMIT": "100000/minute",
            "AUTH_BCRYPT_ROUNDS": "4",
            "AUTH_COOKIE_SECURE": "false",
            "CLUSTER_TCP_NODELAY": "1",
        }
        self.apps = {name: AppHost(name, workdir, self.env) for name in ("a", "b")}
        self.results: dict[str, Any] = {}
        self._runs = 0

    # --- lifecycle ---------------------------------------------------------------------
    def up(self) -> None:
        self.net.up()
        self.pg.init()
        self.redis.start()
        self.client(
            "init", module="bench.cluster.app", extra=["--users", "64"], env=self.env, out=False
        )

    def down(self) -> None:
        for app in self.apps.values():
            try:
                app.stop()
            except Exception as exc:  # keep tearing down whatever happens
                print(f"cleanup: app {app.name}: {exc}", file=sys.stderr)
        self.redis.stop()
        self.pg.shutdown()
        self.net.down()

    def start_apps(self, **extra: str) -> None:
        self.stop_apps()
        for app in self.apps.values():
            app.start(extra)

    def stop_apps(self) -> None:
        for app in self.apps.values():
            app.stop()

    def hosts(self, *names: str) -> list[str]:
        out = []
        for name in names or ("a", "b"):
            out += ["--host", f"{name}={self.apps[name].url}"]
        return out

    # --- the client, in the ctl namespace ----------------------------------------------
    def _client_argv(
        self, command: str, module: str, extra: list[str], out: Path | None
    ) -> list[str]:
        argv = [sys.executable, "-m", module, command, *extra]
        if out is not None:
            argv += ["--out", str(out), "--ledger", str(self.ledger)]
            argv += ["--grace", str(GRACE_SECONDS)]
        return in_ns("ctl", argv)

    def client(
        self,
        command: str,
        *,
        extra: list[str] | None = None,
        module: str = "bench.cluster.client",
        env: dict[str, str] | None = None,
        out: bool = True,
        timeout: float = 1800,
    ) -> Any:
        self._runs += 1
        path = self.workdir / f"client-{self._runs}-{command}.json" if out else None
        proc = subprocess.run(
            self._client_argv(command, module, extra or [], path),
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            cwd=ROOT,
            timeout=timeout,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"client {command} failed:\n{proc.stdout}\n{proc.stderr}")
        return json.loads(path.read_text()) if path is not None else None

    @contextmanager
    def background(self, command: str, extra: list[str]) -> Iterator[Callable[[], Any]]:
        """Start a client in the background; yields a function that waits for its result."""
        self._runs += 1
        path = self.workdir / f"client-{self._runs}-{command}.json"
        proc = subprocess.Popen(
            self._client_argv(command, "bench.cluster.client", extra, path),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def result() -> Any:
            stdout, stderr = proc.communicate(timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"client {command} failed:\n{stdout}\n{stderr}")
            return json.loads(path.read_text())

        try:
            yield result
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# --- sections ------------------------------------------------------------------------------
def demo_section(c: Cluster) -> dict[str, Any]:
    """The demo, `--workers 2` on both hosts over the cluster's PostgreSQL."""
    procs = []
    password = "demo password for the cluster"
    try:
        for name in ("a", "b"):
            host = HOSTS[name].front
            log = (c.workdir / f"demo-{name}.log").open("ab")
            argv = [
                sys.executable,
                "-m",
                "authmanager.demo",
                "--workers",
                "2",
                "--host",
                str(host),
                "--port",
                str(APP_PORT),
                "--db",
                c.pg.url,
            ]
            if name == "a":
                argv += ["--password", password]  # B reads the stored one
            env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTH_"))}
            procs.append(
                (
                    subprocess.Popen(
                        in_ns(name, argv), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
                    ),
                    log,
                )
            )
            deadline = Clock() + 90
            path = c.workdir / f"demo-{name}.log"
            while path.read_text().count("Application startup complete") < 2:
                if Clock() > deadline or procs[-1][0].poll() is not None:
                    raise RuntimeError(f"the demo did not start on {name}: {path.read_text()}")
                time.sleep(0.2)
        out: dict[str, Any] = c.client("demo", extra=[*c.hosts(), "--password", password])
        out["b_printed_password"] = (
            f"password:  {password}" in (c.workdir / "demo-b.log").read_text()
        )
        return out
    finally:
        for proc, log in procs:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def nodelay_section(c: Cluster) -> dict[str, Any]:
    """Kept-alive request latency of uvicorn --workers 2, without and with TCP_NODELAY."""
    out = {}
    for flag in ("0", "1"):
        c.start_apps(CLUSTER_TCP_NODELAY=flag)
        out[flag] = c.client("keepalive", extra=[*c.hosts(), "--count", "50"])
    return out


def stale_section(c: Cluster, pre_ping: bool) -> dict[str, Any]:
    """Pools warmed by load, PostgreSQL restarted, 5 s idle, 40 sequential requests."""
    c.start_apps(CLUSTER_POOL_PRE_PING="1" if pre_ping else "0")
    c.client(
        "mix",
        extra=[
            *c.hosts(),
            "--duration",
            "4",
            "--users",
            "8",
            "--first-user",
            "40",
            "--pause",
            "0.0",
        ],
    )
    token = c.client("login", extra=[*c.hosts("a"), "--first-user", "50"])["token"]
    before = c.client("probe", extra=[*c.hosts(), "--token", token, "--count", "40"])
    c.pg.restart("fast")
    time.sleep(5)
    after = c.client("probe", extra=[*c.hosts(), "--token", token, "--count", "40"])
    return {"pre_ping": pre_ping, "before": before, "after": after}


def revocation_section(c: Cluster, mode: str, trials: int) -> dict[str, Any]:
    cache = "off" if mode == "off" else "postgres"
    c.start_apps(AUTH_STATE_CACHE=cache)
    extra = [*c.hosts(), "--trials", str(trials), "--dsn", c.pg.dsn, "--first-user", "56"]
    if mode == "postgres-drop":
        extra += ["--drop-listeners"]
    return c.client("revocation", extra=extra)  # type: ignore[no-any-return]


def ratelimit_section(c: Cluster) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c.start_apps()
    for label, names in (("one host (A)", ("a",)), ("both hosts", ("a", "b"))):
        c.redis.cli("flushall")
        out[f"redis, {label}"] = c.client(
            "ratelimit", extra=[*c.hosts(*names), "--login", "user63@bench"]
        )["statuses"]
    if not c.short:
        c.start_apps(AUTH_RATE_LIMIT_STORAGE_URL="memory://")
        out["memory://, both hosts"] = c.client(
            "ratelimit", extra=[*c.hosts(), "--login", "user63@bench", "--attempts", "24"]
        )["statuses"]
    c.redis.cli("flushall")
    return out


FAULTS = [
    "pg-restart-fast",
    "pg-restart-immediate",
    "pg-stop-10s",
    "pg-kill-conns",
    "redis-stop-10s",
    "worker-kill",
    "partition-a-db-10s",
]
SHORT_FAULTS = ["pg-restart-fast", "pg-kill-conns", "worker-kill", "partition-a-db-10s"]


def inject(c: Cluster, fault: str) -> tuple[float, float, str]:
    """Inject *fault*; return (start, end) monotonic times and a note."""
    start = Clock()
    note = ""
    if fault == "pg-restart-fast":
        end = c.pg.restart("fast")
    elif fault == "pg-restart-immediate":
        end = c.pg.restart("immediate")
    elif fault == "pg-stop-10s":
        c.pg.stop("fast")
        time.sleep(10)
        end = c.pg.start()
    elif fault == "pg-kill-conns":
        killed = 0
        for _ in range(5):
            killed += c.pg.terminate_backends()
            end = Clock()
            time.sleep(2)
        note = f"{killed} backends terminated"
    elif fault == "redis-stop-10s":
        c.redis.stop()
        time.sleep(10)
        end = c.redis.start()
    elif fault == "worker-kill":
        pids = []
        for name in ("a", "b", "a"):
            pids.append(c.apps[name].kill_worker())
            end = Clock()
            time.sleep(3)
        note = f"SIGKILL {pids}"
    elif fault == "partition-a-db-10s":
        c.net.partition("a", "back")
        try:
            time.sleep(10)
        finally:
            c.net.heal("a", "back")
        end = Clock()
    else:
        raise ValueError(fault)
    return start, end, note


def fault_section(
    c: Cluster, faults: list[str], pre_ping: bool, db_timeout: float = 0
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c.start_apps(CLUSTER_POOL_PRE_PING="1" if pre_ping else "0", CLUSTER_DB_TIMEOUT=str(db_timeout))
    lead, tail = (4, 10) if c.short else (6, 14)
    for index, fault in enumerate(faults):
        duration = lead + 13 + tail
        users = ["--users", "8", "--first-user", str(8 + (index % 4) * 8)]
        with c.background("mix", [*c.hosts(), "--duration", str(duration), *users]) as result:
            time.sleep(lead)
            start, end, note = inject(c, fault)
            mix = result()
        out[fault] = report.fault_row(mix, start, end, note)
        if fault == "worker-kill":  # let uvicorn's supervisor replace the workers
            for app in c.apps.values():
                deadline = Clock() + 30
                while len(app.worker_pids()) < app.workers and Clock() < deadline:
                    time.sleep(0.2)
    return out


def soak_section(c: Cluster, seconds: float, env_b: dict[str, str]) -> dict[str, Any]:
    c.start_apps()
    if env_b:  # host B differently, for a comparison within one run
        c.apps["b"].stop()
        c.apps["b"].start(env_b)
    samples: list[dict[str, Any]] = []
    stop = threading.Event()
    t0 = Clock()

    def sample() -> None:
        while not stop.is_set():
            row: dict[str, Any] = {"t": round(Clock() - t0, 1), "rss": {}, "threads": {}, "db": 0}
            for app in c.apps.values():
                for i, pid in enumerate(sorted(app.worker_pids())):
                    row["rss"][f"{app.name}{i + 1}"] = rss_kib(pid)
                    row["threads"][f"{app.name}{i + 1}"] = threads(pid)
            try:
                row["db"] = sum(c.pg.connections().values())
            except Exception:
                row["db"] = None
            samples.append(row)
            stop.wait(15)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    objects: dict[str, Any] = {}
    try:
        with c.background(
            "mix",
            [
                *c.hosts(),
                "--duration",
                str(seconds),
                "--users",
                "8",
                "--first-user",
                "0",
                "--pause",
                "0.02",
            ],
        ) as result:
            time.sleep(min(30.0, seconds / 4))  # past the warm-up: pools, caches, arenas
            objects["start"] = c.client("objects", extra=c.hosts())
            mix = result()
        objects["end"] = c.client("objects", extra=c.hosts())
    finally:
        stop.set()
        sampler.join(timeout=30)
    return {
        "mix": mix,
        "samples": samples,
        "seconds": seconds,
        "objects_start": objects.get("start"),
        "objects_end": objects.get("end"),
    }


def check_section(c: Cluster) -> dict[str, Any]:
    return c.client("check", extra=[*c.hosts(), "--dsn", c.pg.dsn])  # type: ignore[no-any-return]


# --- main ----------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(prog="python bench/cluster/run.py", description=__doc__)
    parser.add_argument(
        "--short", action="store_true", help="the CI form (soak 1.5 min, fewer trials and faults)"
    )
    parser.add_argument("--soak-minutes", type=float, default=None)
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        choices=["demo", "stale", "revocation", "ratelimit", "faults", "soak"],
    )
    parser.add_argument(
        "--faults",
        nargs="*",
        default=None,
        choices=FAULTS,
        help="the faults to inject (default: all, or the short list)",
    )
    parser.add_argument(
        "--pre-ping",
        action="store_true",
        help="faults: pool_pre_ping on in the first fault pass too",
    )
    parser.add_argument(
        "--db-timeout",
        type=float,
        default=0,
        help="faults: asyncpg connect/command timeout in the first pass (s)",
    )
    parser.add_argument(
        "--soak-env-b",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="soak: environment of host B's workers only (a comparison)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--cleanup",
        action="store_true",
        help="only remove what an earlier run left (namespaces, processes)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("the cluster harness needs root (network namespaces)", file=sys.stderr)
        return 2
    if args.cleanup:
        print("removed:", netns_cleanup())
        return 0
    for tool in ("ip", "redis-server", "runuser"):
        if shutil.which(tool) is None:
            print(f"{tool} not found", file=sys.stderr)
            return 2
    soak = (
        args.soak_minutes if args.soak_minutes is not None else (1.5 if args.short else 10.0)
    ) * 60
    sections = args.only or ["demo", "stale", "revocation", "ratelimit", "faults", "soak"]
    workdir = Path(tempfile.mkdtemp(prefix="amc-"))
    # The postgres user runs the server from a directory inside it.
    os.chmod(workdir, 0o755)  # noqa: S103
    cluster = Cluster(workdir, args.short)

    def on_signal(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    results = cluster.results
    results["load_average"] = {"start": os.getloadavg()}
    began = time.time()
    try:
        cluster.up()
        if "demo" in sections:
            results["demo"] = demo_section(cluster)
        if "demo" in sections:
            results["nodelay"] = nodelay_section(cluster)
        if "stale" in sections:
            results["stale"] = [stale_section(cluster, False)]
            if not args.short:
                results["stale"].append(stale_section(cluster, True))
        if "revocation" in sections:
            trials = 20 if args.short else 200
            results["revocation"] = {
                "off": revocation_section(cluster, "off", trials),
                "postgres": revocation_section(cluster, "postgres", trials),
                "postgres, LISTEN dropped": revocation_section(
                    cluster, "postgres-drop", max(5, trials // 4)
                ),
            }
        if "ratelimit" in sections:
            results["ratelimit"] = ratelimit_section(cluster)
        if "faults" in sections:
            faults = args.faults or (SHORT_FAULTS if args.short else FAULTS)
            first = "faults"
            if args.pre_ping or args.db_timeout:
                first += f", pre-ping {'on' if args.pre_ping else 'off'}"
                first += f", asyncpg timeouts {args.db_timeout:g} s" if args.db_timeout else ""
            results[first] = fault_section(
                cluster, faults, pre_ping=args.pre_ping, db_timeout=args.db_timeout
            )
            if not args.short and args.faults is None:
                results["faults, pre-ping on"] = fault_section(
                    cluster,
                    ["pg-restart-fast", "pg-restart-immediate", "pg-stop-10s"],
                    pre_ping=True,
                )
                results["faults, pre-ping on, asyncpg timeouts 2 s"] = fault_section(
                    cluster, ["partition-a-db-10s", "pg-stop-10s"], pre_ping=True, db_timeout=2
                )
        if "soak" in sections:
            env_b = dict(kv.split("=", 1) for kv in args.soak_env_b)
            results["soak"] = soak_section(cluster, soak, env_b)
            results["soak"]["env_b"] = env_b
        results["check"] = check_section(cluster)
    finally:
        results["elapsed_s"] = round(time.time() - began)
        results["load_average"]["end"] = os.getloadavg()
        cluster.down()
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=1))
        print(report.render(results))
        if args.keep or not report.passed(results):  # a failed run keeps its logs
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.passed(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
