"""The cluster's network: Linux network namespaces joined by two bridges.

```
            front 198.18.0.0/24                 back 198.18.1.0/24
  ctl .1 ──┐                          ┌── ctl .1
  app-a .11┼── br-front  (amc-net)  br-back ┼── app-a .11, app-b .12
  app-b .12┘                          └── db .21, redis .22
```

Every address lies in 198.18.0.0/15 (RFC 2544, reserved for benchmarks) and exists only
inside the namespaces made here, all named `amc-*`: nothing is routed to or from the
machine's own network. The load generator and the checks run in `amc-ctl`; the
application hosts, PostgreSQL and Redis each in their own namespace. A partition
disables one host's port on a bridge: its frames are dropped silently in both
directions, as by a firewall, while the host's own link stays up.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

__all__ = ["HOSTS", "PREFIX", "Host", "Network", "netns_cleanup"]

PREFIX = "amc-"
SWITCH = f"{PREFIX}net"


@dataclass(frozen=True)
class Host:
    """One namespace: its name and its addresses on the front and back networks."""

    name: str
    front: str | None
    back: str | None

    @property
    def ns(self) -> str:
        return PREFIX + self.name


HOSTS = {
    "ctl": Host("ctl", "198.18.0.1", "198.18.1.1"),
    "a": Host("a", "198.18.0.11", "198.18.1.11"),
    "b": Host("b", "198.18.0.12", "198.18.1.12"),
    "db": Host("db", None, "198.18.1.21"),
    "redis": Host("redis", None, "198.18.1.22"),
}


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def existing() -> list[str]:
    """The `amc-*` namespaces present now (a run that died may have left some)."""
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def netns_cleanup() -> list[str]:
    """Delete every `amc-*` namespace (their veths and bridges go with them)."""
    gone = existing()
    for name in gone:
        _ip("netns", "pids", name, check=False)
        pids = _ip("netns", "pids", name, check=False).stdout.split()
        for pid in pids:  # only processes inside our own namespaces
            subprocess.run(["kill", "-9", pid], check=False, capture_output=True)
        _ip("netns", "del", name, check=False)
    return gone


class Network:
    """Creates the namespaces, links and addresses; `partition`/`heal` one host."""

    def __init__(self) -> None:
        self.hosts = HOSTS

    def up(self) -> None:
        """Build the whole topology (after removing any leftover of an earlier run)."""
        netns_cleanup()
        _ip("netns", "add", SWITCH)
        _ip("-n", SWITCH, "link", "set", "lo", "up")
        for bridge in ("br-front", "br-back"):
            _ip("-n", SWITCH, "link", "add", bridge, "type", "bridge")
            _ip("-n", SWITCH, "link", "set", bridge, "up")
        for host in self.hosts.values():
            _ip("netns", "add", host.ns)
            _ip("-n", host.ns, "link", "set", "lo", "up")
            for side, address in (("front", host.front), ("back", host.back)):
                if address is None:
                    continue
                port = f"{host.name}-{side}"
                _ip(
                    "-n",
                    SWITCH,
                    "link",
                    "add",
                    port,
                    "type",
                    "veth",
                    "peer",
                    side,
                    "netns",
                    host.ns,
                )
                _ip("-n", SWITCH, "link", "set", port, "master", f"br-{side}")
                _ip("-n", SWITCH, "link", "set", port, "up")
                _ip("-n", host.ns, "addr", "add", f"{address}/24", "dev", side)
                _ip("-n", host.ns, "link", "set", side, "up")

    def down(self) -> None:
        """Remove every namespace made here."""
        netns_cleanup()

    def _port_state(self, host: str, side: str, state: int) -> None:
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                SWITCH,
                "bridge",
                "link",
                "set",
                "dev",
                f"{host}-{side}",
                "state",
                str(state),
            ],
            check=True,
            capture_output=True,
        )

    def partition(self, host: str, side: str = "back") -> None:
        """Drop every frame between *host* and the *side* network (silently, both ways)."""
        self._port_state(host, side, 0)  # 0 = disabled

    def heal(self, host: str, side: str = "back") -> None:
        """Undo `partition`."""
        self._port_state(host, side, 3)  # 3 = forwarding


def in_ns(host: str, argv: list[str]) -> list[str]:
    """*argv* to run inside host *host*'s namespace."""
    return ["ip", "netns", "exec", HOSTS[host].ns, *argv]
