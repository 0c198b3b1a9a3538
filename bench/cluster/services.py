"""The cluster's processes: its own PostgreSQL and Redis, and two uvicorn hosts.

Each runs inside its namespace (see `netns`), from a temporary directory of the run;
nothing here touches a server the machine already runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.cluster.netns import HOSTS, in_ns

__all__ = ["AppHost", "Postgres", "Redis", "pg_bin"]

ROOT = Path(__file__).resolve().parents[2]
DB_NAME, DB_USER, DB_PASSWORD = "bench", "bench", "bench-cluster-password"
PG_PORT, REDIS_PORT, APP_PORT = 5432, 6379, 8000


def pg_bin(name: str) -> str:
    """The path of a PostgreSQL server program (Debian keeps them off PATH)."""
    for version in ("17", "16", "15", "14", "13"):
        path = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: apt-get install postgresql")
    return found


def _wait(predicate: object, timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic()
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout} s")


class Postgres:
    """A PostgreSQL cluster of the run's own, listening only on the db host's address."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "pg"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.host = HOSTS["db"].back
        assert self.host is not None
        self.url = f"postgresql+asyncpg://{DB_USER}:{DB_PASSWORD}@{self.host}:{PG_PORT}/{DB_NAME}"
        self.dsn = f"postgresql://{DB_USER}:{DB_PASSWORD}@{self.host}:{PG_PORT}/{DB_NAME}"

    def _as_postgres(
        self, argv: list[str], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            in_ns("db", ["runuser", "-u", "postgres", "--", *argv]),
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def init(self) -> None:
        """initdb, a pg_hba for the cluster's networks, and the bench role and database."""
        self.dir.mkdir(parents=True)
        shutil.chown(self.dir, "postgres", "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text(DB_PASSWORD)
        shutil.chown(pwfile, "postgres", "postgres")
        self._as_postgres(
            [
                pg_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
            ]
        )
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 198.18.0.0/15 scram-sha-256\n"
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{self.host}'\nport = {PG_PORT}\n"
                f"unix_socket_directories = '{self.dir}'\nmax_connections = 200\n"
                "shared_buffers = 64MB\nfsync = on\nsynchronous_commit = on\n"
                "log_min_messages = warning\n"
            )
        self.start()
        sql = (
            f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}';"
            f"CREATE DATABASE {DB_NAME} OWNER {DB_USER};"
        )
        for statement in sql.split(";")[:-1]:
            self.psql(statement, database="postgres")

    def psql(self, sql: str, *, database: str = DB_NAME) -> str:
        """Run *sql* as the superuser over the local socket; return the output (unaligned)."""
        out = self._as_postgres(
            [
                "psql",
                "-h",
                str(self.dir),
                "-p",
                str(PG_PORT),
                "-U",
                "postgres",
                "-d",
                database,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ]
        )
        return out.stdout.strip()

    def ready(self) -> bool:
        out = self._as_postgres(
            ["pg_isready", "-q", "-h", self.host, "-p", str(PG_PORT), "-d", DB_NAME, "-U", DB_USER],
            check=False,
        )
        return out.returncode == 0

    def _ctl(self, *args: str) -> None:
        self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args])

    def start(self) -> float:
        """Start the server; return the monotonic time it accepts connections."""
        self._ctl("-w", "-t", "60", "start")
        return _wait(self.ready, 60, "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-w", "-t", "60", "-m", mode, "stop")

    def restart(self, mode: str = "fast") -> float:
        """Stop (*mode*: fast or immediate) and start again; return when it is ready."""
        self.stop(mode)
        return self.start()

    def terminate_backends(self) -> int:
        """pg_terminate_backend every connection of the bench database; return how many."""
        out = self.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = 'bench' AND pid <> pg_backend_pid()",
        )
        return int(out or 0)

    def connections(self) -> dict[str, int]:
        """Connections to the bench database now, by client address and application."""
        out = self.psql(
            "SELECT coalesce(host(client_addr), 'local') || ' ' || application_name, count(*) "
            "FROM pg_stat_activity WHERE datname = 'bench' GROUP BY 1 ORDER BY 1"
        )
        counts: dict[str, int] = {}
        for line in out.splitlines():
            key, _, count = line.rpartition("|")
            counts[key.strip()] = int(count)
        return counts

    def shutdown(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self.stop("immediate")


class Redis:
    """redis-server on the redis host's address, without persistence."""

    def __init__(self, workdir: Path) -> None:
        self.host = HOSTS["redis"].back
        self.url = f"redis://{self.host}:{REDIS_PORT}/0"
        self.log = workdir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                in_ns(
                    "redis",
                    [
                        "redis-server",
                        "--bind",
                        str(self.host),
                        "--port",
                        str(REDIS_PORT),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--protected-mode",
                        "no",
                    ],
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return _wait(self.ready, 30, "Redis")

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            in_ns("redis", ["redis-cli", "-h", str(self.host), "-p", str(REDIS_PORT), *args]),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout.strip()

    def ready(self) -> bool:
        return self.cli("ping") == "PONG"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None


class AppHost:
    """`uvicorn --factory bench.cluster.app:create --workers 2` inside one app namespace."""

    def __init__(self, name: str, workdir: Path, env: dict[str, str], workers: int = 2) -> None:
        self.name = name
        self.address = HOSTS[name].front
        self.url = f"http://{self.address}:{APP_PORT}"
        self.log = workdir / f"app-{name}.log"
        self.env = env
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        env = {**os.environ, **self.env, **(extra_env or {})}
        env["PYTHONPATH"] = str(ROOT)
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.cluster.app:create",
            "--host",
            str(self.address),
            "--port",
            str(APP_PORT),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ]
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                in_ns(self.name, argv), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
            )

        def started() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"app host {self.name} exited; see {self.log}")
            with self.log.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
            return text.count("Application startup complete") >= self.workers

        _wait(started, 90, f"app host {self.name}")

    def worker_pids(self) -> list[int]:
        """The worker processes (children of uvicorn's supervisor), by pid."""
        if self.proc is None:
            return []
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        pids = []
        for pid in children.split():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmd:  # not multiprocessing's resource tracker
                pids.append(int(pid))
        return pids

    def kill_worker(self) -> int:
        """SIGKILL one worker (uvicorn's supervisor starts a new one); return its pid."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


def threads(pid: int) -> int | None:
    """The number of threads of *pid*, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_kib(pid: int) -> int | None:
    """The resident set size of *pid* in KiB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
