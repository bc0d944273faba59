"""A version's link to the world: a veth pair, a /30 from the pool, a default route, its rules.

Made once per version, right after its network namespace (blocking, a few subprocesses of
`ip` and `nft`: run it off the event loop), and removed with it. The namespace end of the veth
lives in the version's network namespace, so when the server dies (even by `kill -9`) and its
namespace descriptors close, the kernel deletes the pair with the namespace. What outlives a
crash is the nftables table and the policy-routing rules: `EgressNetwork.start()` replaces the
table wholesale and removes the rules it would add, so every start begins clean.

Pool: `100.64.0.0/16` by default, from the shared address space of RFC 6598 (CGNAT): never a
public address, and unlike the RFC 1918 ranges rarely an operator's own LAN; configurable for
hosts where it is taken. IPv4 only: a version's namespace has no IPv6 route at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from sandlot.sandbox import egress_rules
from sandlot.sandbox.egress_rules import EgressGrants, VersionRules, denied_for

_TIMEOUT_S = 10.0
# Policy-routing rules sit ahead of `main` (32766), so a marked packet never sees the main
# table; mark and priority are per tag, so that servers on one host keep to their own rules.
_MARK_BASE = 0x5A100000
_PRIORITY_BASE = 3000


class EgressSetupError(OSError):
    """The host refused part of a version's network setup."""


def _run(argv: Sequence[str], stdin: str = "", pass_fds: Sequence[int] = ()) -> None:
    proc = subprocess.run(
        list(argv),
        input=stdin.encode(),
        capture_output=True,
        timeout=_TIMEOUT_S,
        pass_fds=tuple(pass_fds),
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip()
        raise EgressSetupError(f"{argv[0]} failed: {detail}")


def nft(script: str) -> None:
    _run(["nft", "-f", "-"], script)


@dataclass(frozen=True)
class EgressConfig:
    pool: IPv4Network
    protected: tuple[tuple[IPv4Address, int], ...]  # the server's and database's addr:port
    route_table: int | None  # route version traffic by this table only (tests, or operators)


@dataclass(frozen=True)
class Link:
    index: int
    host_if: str
    host_addr: IPv4Address
    ns_addr: IPv4Address


class EgressNetwork:
    """One per server: the pool of /30s, the table, and each version's link and chain."""

    def __init__(self, config: EgressConfig, run_key: str) -> None:
        self.config = config
        self.tag = hashlib.sha256(run_key.encode()).hexdigest()[:4]
        self.ifprefix = f"sl{self.tag}"
        self.mark = _MARK_BASE | int(self.tag, 16)
        self.priority = _PRIORITY_BASE + 2 * (int(self.tag, 16) % 500)
        self._count = 2 ** (30 - config.pool.prefixlen)
        self._free = iter(range(self._count))
        self._returned: list[int] = []
        self._lock = threading.Lock()

    @property
    def table(self) -> str:
        return egress_rules.table_name(self.tag)

    def start(self) -> None:
        """Replace the table (and so every stale rule of a crashed run) and set routing."""
        self._remove_route_rules()
        mark = self.mark if self.config.route_table is not None else None
        nft(
            egress_rules.base_ruleset(
                self.tag, self.ifprefix, self.config.pool, self.config.protected, mark
            )
        )
        if self.config.route_table is not None:
            fwmark, table = hex(self.mark), str(self.config.route_table)
            _run(["ip", "rule", "add", "fwmark", fwmark, "lookup", table,
                  "priority", str(self.priority)])  # fmt: skip
            # No route in that table: unreachable, never on to the main table's default route.
            _run(["ip", "rule", "add", "fwmark", fwmark, "unreachable",
                  "priority", str(self.priority + 1)])  # fmt: skip

    def stop(self) -> None:
        self._remove_route_rules()
        with contextlib.suppress(EgressSetupError):
            nft(f"delete table inet {self.table}\n")

    def _remove_route_rules(self) -> None:
        for prio in (self.priority, self.priority + 1):
            while True:
                try:
                    _run(["ip", "rule", "del", "fwmark", hex(self.mark), "priority", str(prio)])
                except EgressSetupError:
                    break

    def _allocate(self) -> int:
        with self._lock:
            if self._returned:
                return self._returned.pop()
            index = next(self._free, None)
        if index is None:
            raise EgressSetupError(f"the egress pool {self.config.pool} has no free /30")
        return index

    def attach(self, netns_fd: int, egress: EgressGrants) -> Link:
        """Give the namespace behind `netns_fd` its veth, address, route and rules."""
        index = self._allocate()
        net = self._subnet(index)
        host_addr, ns_addr = net.network_address + 1, net.network_address + 2
        host_if, ns_if = f"{self.ifprefix}{index:x}h", f"{self.ifprefix}{index:x}n"
        link = Link(index, host_if, host_addr, ns_addr)
        ns_path = f"/proc/{os.getpid()}/fd/{netns_fd}"
        try:
            _run(["ip", "-batch", "-"], "\n".join([
                f"link add {host_if} type veth peer name {ns_if}",
                f"link set {ns_if} netns {ns_path}",
                f"addr add {host_addr}/30 dev {host_if}",
                f"link set {host_if} up",
            ]) + "\n")  # fmt: skip
            _run(["nsenter", f"--net={ns_path}", "ip", "-batch", "-"], "\n".join([
                f"link set {ns_if} name eth0",
                f"addr add {ns_addr}/30 dev eth0",
                "link set eth0 up",
                f"route add default via {host_addr} dev eth0",
            ]) + "\n")  # fmt: skip
            # Forwarding for packets that arrive on this veth only: the host's own setting
            # (net.ipv4.ip_forward) is left as the operator chose it.
            with open(f"/proc/sys/net/ipv4/conf/{host_if}/forwarding", "w") as fh:
                fh.write("1")
            rules = VersionRules(
                index, host_if, host_addr, egress.grants, egress.internet, denied_for(egress)
            )
            nft(egress_rules.version_ruleset(self.tag, self.config.pool, rules))
        except BaseException:
            self.detach(link)
            raise
        return link

    def _subnet(self, index: int) -> IPv4Network:
        return IPv4Network((int(self.config.pool.network_address) + 4 * index, 30))

    def detach(self, link: Link) -> None:
        """Remove a version's link and rules; never raises (a missing part is already gone)."""
        with contextlib.suppress(EgressSetupError):
            nft(egress_rules.remove_version(self.tag, link.index, link.host_if))
        with contextlib.suppress(EgressSetupError):
            _run(["ip", "link", "del", link.host_if])
        with self._lock:
            self._returned.append(link.index)

    def admit(
        self, link: Link, addrs: Sequence[IPv4Address], ports: tuple[tuple[int, int], ...], ttl: int
    ) -> None:
        """Let the version reach `addrs` (a resolver answer) on `ports` for `ttl` seconds."""
        script = egress_rules.answer_elements(self.tag, link.index, addrs, ports, ttl)
        if script:
            nft(script)

    def denied_counts(self) -> dict[int, int]:
        """Packets each version's rules rejected so far, by link index (the trusted count)."""
        proc = subprocess.run(
            ["nft", "list", "counters", "table", "inet", self.table],
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
            text=True,
        )
        counts: dict[int, int] = {}
        index: int | None = None
        for line in proc.stdout.splitlines():
            words = line.split()
            if (
                words[:1] == ["counter"]
                and words[1].startswith("v")
                and words[1].endswith("_denied")
            ):
                index = int(words[1][1 : -len("_denied")])
            elif index is not None and "packets" in words:
                counts[index] = int(words[words.index("packets") + 1])
                index = None
        return counts
