"""Whether this host can enforce network egress policies, found by trying the parts for real.

Enforcement (see `egress_net`) needs root, the `ip`, `nsenter` and `nft` tools, a working
nf_tables in the kernel, veth pairs, and forwarding of the replies that come back on the
uplink: `net.ipv4.ip_forward`, unless a policy-routing table is configured
(`SANDLOT_EGRESS_ROUTE_TABLE`), whose interfaces are then the operator's to set up (Sandlot
turns forwarding on for its own veths only). Probed once per process (~30 ms).

A host firewall whose forward hook drops by default (an nftables base chain with `policy
drop`, iptables' FORWARD policy DROP in either flavour) would drop every version's traffic:
Sandlot cannot outvote it (in nftables an `accept` ends only its own base chain; every other
chain on the hook still judges the packet, and iptables-legacy is a separate hook), so such a
host is reported as unable to enforce, and policies are refused rather than silently dead.

IPv6 is offered on top when the host forwards it: `net.ipv6.conf.all.forwarding` is 1, or
(with a route table) the kernel has per-interface `force_forwarding` (Linux 6.17) for the
veths. Without it versions get IPv4 only, and the reason says so.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

_TIMEOUT_S = 10.0
_OWN_TABLE_PREFIX = "sandlot_"


@dataclass(frozen=True)
class EgressSupport:
    ok: bool
    reason: str
    ipv6: bool = False  # versions also get an IPv6 link


def _try(argv: list[str]) -> str:
    """'' when the command succeeds, else why not."""
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=_TIMEOUT_S, check=False, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[0]}: {exc}"
    return "" if proc.returncode == 0 else f"{' '.join(argv[:3])}: {proc.stderr.strip()}"


def _output(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=_TIMEOUT_S, check=False, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _sysctl(path: str) -> str:
    try:
        with open(f"/proc/sys/{path}") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def forward_blocker(prefix: Sequence[str] = ()) -> str | None:
    """Why this host's firewall would drop forwarded traffic, or None.

    `prefix` runs the commands elsewhere (`ip netns exec <name>`: the tests' own namespace)."""
    listed = _output([*prefix, "nft", "-j", "list", "chains"])
    for chain in _nft_chains(listed or ""):
        if (
            chain.get("hook") == "forward"
            and chain.get("policy") == "drop"
            and not str(chain.get("table", "")).startswith(_OWN_TABLE_PREFIX)
        ):
            where = f"{chain.get('family')} {chain.get('table')} {chain.get('name')}"
            return f"the nftables chain '{where}' drops forwarded traffic by default"
    for tool in ("iptables-legacy", "ip6tables-legacy"):
        if shutil.which(tool) is None:
            continue  # the nft flavour of iptables shows in the chains above
        rules = _output([*prefix, tool, "-w", "-S", "FORWARD"]) or ""
        if "-P FORWARD DROP" in rules.splitlines():
            return f"{tool}'s FORWARD policy is DROP"
    return None


def _nft_chains(text: str) -> list[dict[str, object]]:
    try:
        items = json.loads(text).get("nftables", []) if text else []
    except (ValueError, AttributeError):
        return []
    return [item["chain"] for item in items if isinstance(item, dict) and "chain" in item]


def ipv6_forwarding(route_table: int | None) -> str | None:
    """Why versions get no IPv6 link here, or None when they do."""
    if _sysctl("net/ipv6/conf/all/disable_ipv6") != "0":
        return "IPv6 is disabled on this host"
    if _sysctl("net/ipv6/conf/all/forwarding") == "1":
        return None
    if route_table is not None and os.path.exists("/proc/sys/net/ipv6/conf/lo/force_forwarding"):
        return None
    return "net.ipv6.conf.all.forwarding is 0: IPv6 replies would not be forwarded (IPv4 only)"


def egress_support(route_table: int | None = None) -> EgressSupport:
    """`route_table`: the setting's value; None reads it from the settings."""
    if route_table is None:
        from sandlot.config import Settings

        route_table = Settings().egress_route_table
    return _probe(route_table)


@functools.cache
def _probe(route_table: int | None) -> EgressSupport:
    return probe(route_table)


def probe(route_table: int | None, prefix: Sequence[str] = ()) -> EgressSupport:
    """The probe itself, uncached; `prefix` runs it elsewhere (the tests' own namespace)."""
    if os.geteuid() != 0:
        return EgressSupport(False, "the server is not root: veth and nftables need it")
    missing = [tool for tool in ("ip", "nsenter", "nft") if shutil.which(tool) is None]
    if missing:
        return EgressSupport(False, f"missing tools: {', '.join(missing)} (iproute2, nftables)")
    if why := _try([*prefix, "nft", "list", "tables"]):
        return EgressSupport(False, f"nftables does not work: {why}")
    name = f"slprobe{os.getpid() % 100000}"
    why = _try([*prefix, "ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p"])
    if why:
        return EgressSupport(False, f"cannot create a veth pair: {why}")
    _try([*prefix, "ip", "link", "del", name])
    if blocker := forward_blocker(prefix):
        return EgressSupport(False, f"{blocker}: every version's traffic would be dropped")
    no_ipv6 = ipv6_forwarding(route_table)
    ipv6 = f"; {no_ipv6}" if no_ipv6 else "; IPv6"
    if route_table is not None:
        return EgressSupport(
            True, f"nftables, veth; routed by table {route_table}{ipv6}", no_ipv6 is None
        )
    if _sysctl("net/ipv4/ip_forward") != "1":
        return EgressSupport(
            False, "net.ipv4.ip_forward is 0: replies from the uplink would not be forwarded"
        )
    return EgressSupport(True, f"nftables, veth, ip_forward{ipv6}", no_ipv6 is None)
