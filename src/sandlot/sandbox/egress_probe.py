"""Whether this host can enforce network egress policies, found by trying the parts for real.

Enforcement (see `egress_net`) needs root, the `ip`, `nsenter` and `nft` tools, a working
nf_tables in the kernel, veth pairs, and forwarding of the replies that come back on the
uplink: `net.ipv4.ip_forward`, unless a policy-routing table is configured
(`SANDLOT_EGRESS_ROUTE_TABLE`), whose interfaces are then the operator's to set up (Sandlot
turns forwarding on for its own veths only). Probed once per process (~30 ms).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass

_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EgressSupport:
    ok: bool
    reason: str


def _try(argv: list[str]) -> str:
    """'' when the command succeeds, else why not."""
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=_TIMEOUT_S, check=False, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[0]}: {exc}"
    return "" if proc.returncode == 0 else f"{' '.join(argv[:3])}: {proc.stderr.strip()}"


def _forwarding() -> bool:
    try:
        with open("/proc/sys/net/ipv4/ip_forward") as fh:
            return fh.read().strip() == "1"
    except OSError:
        return False


def egress_support(route_table: int | None = None) -> EgressSupport:
    """`route_table`: the setting's value; None reads it from the settings."""
    if route_table is None:
        from sandlot.config import Settings

        route_table = Settings().egress_route_table
    return _probe(route_table)


@functools.cache
def _probe(route_table: int | None) -> EgressSupport:
    if os.geteuid() != 0:
        return EgressSupport(False, "the server is not root: veth and nftables need it")
    missing = [tool for tool in ("ip", "nsenter", "nft") if shutil.which(tool) is None]
    if missing:
        return EgressSupport(False, f"missing tools: {', '.join(missing)} (iproute2, nftables)")
    if why := _try(["nft", "list", "tables"]):
        return EgressSupport(False, f"nftables does not work: {why}")
    name = f"slprobe{os.getpid() % 100000}"
    why = _try(["ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p"])
    if why:
        return EgressSupport(False, f"cannot create a veth pair: {why}")
    _try(["ip", "link", "del", name])
    if route_table is not None:
        return EgressSupport(True, f"nftables, veth; routed by table {route_table}")
    if not _forwarding():
        return EgressSupport(
            False, "net.ipv4.ip_forward is 0: replies from the uplink would not be forwarded"
        )
    return EgressSupport(True, "nftables, veth, ip_forward")
