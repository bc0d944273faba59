"""A version's link to the world: a veth pair, a /30 from the pool, a default route, its rules.

Made once per version, right after its network namespace (blocking, a few subprocesses of
`ip` and `nft`: run it off the event loop), and removed with it. The namespace end of the veth
lives in the version's network namespace, so when the server dies (even by `kill -9`) and its
namespace descriptors close, the kernel deletes the pair with the namespace. What outlives a
crash is the nftables table and the policy-routing rules: `EgressNetwork.start()` replaces the
table wholesale and removes the rules it would add, so every start begins clean.

Pool: `100.64.0.0/16` by default, from the shared address space of RFC 6598 (CGNAT): never a
public address, and unlike the RFC 1918 ranges rarely an operator's own LAN; configurable for
hosts where it is taken. IPv6: each version also gets the /64 of the same number from the
IPv6 pool (a unique-local /48 by default), when the host can forward IPv6 (see egress_probe).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from sandlot.sandbox import egress_rules
from sandlot.sandbox.egress_rules import Address, EgressGrants, VersionRules, denied_for

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
    protected: tuple[tuple[Address, int], ...]  # the server's and database's addr:port
    route_table: int | None  # route version traffic by this table only (tests, or operators)
    pool6: IPv6Network | None = None  # None: versions get no IPv6 (not set, or not forwarded)


@dataclass(frozen=True)
class Link:
    index: int
    host_if: str
    host_addr: IPv4Address
    ns_addr: IPv4Address
    host_addr6: IPv6Address | None = None
    ns_addr6: IPv6Address | None = None


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
        config = self.config
        nft(
            egress_rules.base_ruleset(
                self.tag, self.ifprefix, config.pool, config.protected, mark, config.pool6
            )
        )
        if config.route_table is not None:
            fwmark, table = hex(self.mark), str(config.route_table)
            for family in self._families():
                _run(["ip", family, "rule", "add", "fwmark", fwmark, "lookup", table,
                      "priority", str(self.priority)])  # fmt: skip
                # No route in that table: unreachable, never on to the main table's default.
                _run(["ip", family, "rule", "add", "fwmark", fwmark, "unreachable",
                      "priority", str(self.priority + 1)])  # fmt: skip

    def _families(self) -> tuple[str, ...]:
        return ("-4", "-6") if self.config.pool6 is not None else ("-4",)

    def stop(self) -> None:
        self._remove_route_rules()
        with contextlib.suppress(EgressSetupError):
            nft(f"delete table inet {self.table}\n")

    def _remove_route_rules(self) -> None:
        # Both families whatever this run's pool6: a crashed run may have had IPv6 on.
        for family in ("-4", "-6"):
            for prio in (self.priority, self.priority + 1):
                while True:
                    try:
                        _run(["ip", family, "rule", "del", "fwmark", hex(self.mark),
                              "priority", str(prio)])  # fmt: skip
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
        net6 = self._subnet6(index)
        host6, ns6 = (net6[1], net6[2]) if net6 is not None else (None, None)
        link = Link(index, host_if, host_addr, ns_addr, host6, ns6)
        ns_path = f"/proc/{os.getpid()}/fd/{netns_fd}"
        # nodad: the addresses are ours alone on a fresh link, and duplicate address
        # detection would leave them unusable for the first second or so.
        host_cmds = [f"addr add {host6}/64 dev {host_if} nodad"] if host6 else []
        ns_cmds = [f"addr add {ns6}/64 dev eth0 nodad",
                   f"route add ::/0 via {host6} dev eth0"] if ns6 else []  # fmt: skip
        try:
            _run(["ip", "-batch", "-"], "\n".join([
                f"link add {host_if} type veth peer name {ns_if}",
                f"link set {ns_if} netns {ns_path}",
                f"addr add {host_addr}/30 dev {host_if}",
                *host_cmds,
                f"link set {host_if} up",
            ]) + "\n")  # fmt: skip
            _run(["nsenter", f"--net={ns_path}", "ip", "-batch", "-"], "\n".join([
                f"link set {ns_if} name eth0",
                f"addr add {ns_addr}/30 dev eth0",
                "link set eth0 up",
                f"route add default via {host_addr} dev eth0",
                *ns_cmds,
            ]) + "\n")  # fmt: skip
            self._forward_from(host_if, ipv6=host6 is not None)
            rules = VersionRules(
                index, host_if, host_addr, egress.grants, egress.internet, denied_for(egress)
            )
            nft(egress_rules.version_ruleset(self.tag, self.config.pool, rules, self.config.pool6))
        except BaseException:
            self.detach(link)
            raise
        return link

    def _subnet(self, index: int) -> IPv4Network:
        return IPv4Network((int(self.config.pool.network_address) + 4 * index, 30))

    def _subnet6(self, index: int) -> IPv6Network | None:
        """The version's /64 of the IPv6 pool; None without one (or past its end)."""
        pool6 = self.config.pool6
        if pool6 is None or index >= 2 ** (64 - pool6.prefixlen):
            return None
        return IPv6Network((int(pool6.network_address) + (index << 64), 64))

    @staticmethod
    def _forward_from(host_if: str, *, ipv6: bool) -> None:
        """Forwarding for packets that arrive on this veth only: the host's own settings
        (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding) are left as the operator chose.
        IPv6 has no per-interface forwarding but `force_forwarding` (Linux 6.17); without it
        the probe only offers IPv6 when all.forwarding is already 1."""
        with open(f"/proc/sys/net/ipv4/conf/{host_if}/forwarding", "w") as fh:
            fh.write("1")
        force = f"/proc/sys/net/ipv6/conf/{host_if}/force_forwarding"
        if ipv6 and os.path.exists(force):
            with open(force, "w") as fh:
                fh.write("1")

    def detach(self, link: Link) -> None:
        """Remove a version's link and rules; never raises (a missing part is already gone)."""
        with contextlib.suppress(EgressSetupError):
            nft(egress_rules.remove_version(self.tag, link.index, link.host_if))
        with contextlib.suppress(EgressSetupError):
            _run(["ip", "link", "del", link.host_if])
        with self._lock:
            self._returned.append(link.index)

    def admit(
        self, link: Link, addrs: Sequence[Address], ports: tuple[tuple[int, int], ...], ttl: int
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
