"""The nftables text of Sandlot's egress filter: one table per server, a chain and sets per version.

Pure text building (no I/O), so that what the kernel is told can be read and tested as is.
Layout of table `inet sandlot_<tag>` (the tag is per run dir, so two servers on one host never
touch each other's rules):

- `input`: traffic from a version's veth to the host itself may only reach the resolver
  (port 53 on the host end of that veth); this is what keeps the server's own listen
  addresses and every other local service out of reach, whatever address they listen on.
- `forward`: new traffic from a version's veth jumps (verdict map keyed by interface) to that
  version's chain; nothing new may enter a veth from outside (replies only).
- `v<i>`: metadata addresses, the whole veth pool (every other version), the protected
  address/ports (server, database) and DNS to anything but the resolver are rejected first;
  then the static set (addresses and CIDRs with ports), the resolver-fed set (answers, with a
  timeout = their TTL) and, under `internet`, every public address are accepted; the rest is
  rejected. Every rejection goes through `v<i>_deny`, whose named counter is the trusted count
  of denied attempts. A reject (ICMP admin-prohibited / TCP reset), not a silent drop, so that
  the function's connect fails at once with EHOSTUNREACH and the bootstrap can log it.
- `postrouting`: masquerade out of the host; `prerouting` marks veth traffic when a policy
  routing table is configured (the rules that use the mark are set by `egress_net`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from sandlot.domain.egress import ALWAYS_DENIED, NON_PUBLIC, EgressPolicy, unlocked_denied

PROTOS = ("tcp", "udp")
ALL_PORTS = ((0, 65535),)


@dataclass(frozen=True)
class Grant:
    """One allowed IPv4 network with its port ranges (() means every port)."""

    network: IPv4Network
    ports: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class VersionRules:
    index: int  # the version's /30 in the pool, also its chain's and sets' number
    ifname: str  # the host end of its veth
    host_addr: IPv4Address  # the resolver's address
    grants: tuple[Grant, ...]
    internet: bool
    always_denied: tuple[IPv4Network, ...]


def table_name(tag: str) -> str:
    return f"sandlot_{tag}"


def _ports(ports: Sequence[tuple[int, int]]) -> list[str]:
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in (ports or ALL_PORTS)]


def grant_elements(grants: Iterable[Grant]) -> list[str]:
    """`net . proto . ports` elements of a `ipv4_addr . inet_proto . inet_service` set."""
    return [
        f"{g.network} . {proto} . {port}"
        for g in grants
        for proto in PROTOS
        for port in _ports(g.ports)
    ]


def base_ruleset(
    tag: str,
    ifprefix: str,
    pool: IPv4Network,
    protected: Sequence[tuple[IPv4Address, int]],
    mark: int | None,
) -> str:
    """The whole table, replaced atomically (stale rules of a crashed run go with it)."""
    table = table_name(tag)
    lines = [
        f"table inet {table} {{}}",
        f"delete table inet {table}",
        f"table inet {table} {{",
        "  map v_in { type ifname : verdict; }",
        "  map v_fwd { type ifname : verdict; }",
        "  set guarded { type ipv4_addr . inet_proto . inet_service; flags interval; }",
        "  chain input {",
        "    type filter hook input priority -5; policy accept;",
        f'    iifname "{ifprefix}*" ct state established,related accept',
        "    iifname vmap @v_in",
        f'    iifname "{ifprefix}*" counter drop',
        "  }",
        "  chain forward {",
        "    type filter hook forward priority -5; policy accept;",
        f'    iifname "{ifprefix}*" ct state established,related accept',
        f'    oifname "{ifprefix}*" ct state established,related accept',
        f'    oifname "{ifprefix}*" counter drop',
        "    iifname vmap @v_fwd",
        f'    iifname "{ifprefix}*" counter drop',
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        f'    ip saddr {pool} oifname != "{ifprefix}*" masquerade',
        "  }",
    ]
    if mark is not None:
        lines += [
            "  chain prerouting {",
            "    type filter hook prerouting priority mangle; policy accept;",
            f'    iifname "{ifprefix}*" meta mark set {mark:#x}',
            "  }",
        ]
    lines.append("}")
    elements = [f"{addr} . {proto} . {port}" for addr, port in protected for proto in PROTOS]
    if elements:
        lines.append(f"add element inet {table} guarded {{ {', '.join(elements)} }}")
    return "\n".join(lines) + "\n"


def version_ruleset(tag: str, pool: IPv4Network, rules: VersionRules) -> str:
    """A version's chains and sets, and its entries in the verdict maps."""
    t, i = table_name(tag), rules.index
    concat = "ipv4_addr . inet_proto . inet_service"
    denied = ", ".join(str(n) for n in rules.always_denied) or "255.255.255.255"
    static = grant_elements(rules.grants)
    icmp_nets = sorted({str(g.network) for g in rules.grants})
    lines = [
        f"add counter inet {t} v{i}_denied",
        f"add set inet {t} v{i}_static {{ type {concat}; flags interval; }}",
        f"add set inet {t} v{i}_dyn {{ type {concat}; flags interval,timeout; }}",
        f"add set inet {t} v{i}_icmp {{ type ipv4_addr; flags interval; }}",
        f"add set inet {t} v{i}_icmpdyn {{ type ipv4_addr; flags timeout; }}",
        f"add chain inet {t} v{i}_deny",
        f'add rule inet {t} v{i}_deny counter name "v{i}_denied" '
        "reject with icmpx admin-prohibited",
        f"add chain inet {t} v{i}_in",
        f"add rule inet {t} v{i}_in ip daddr {rules.host_addr} meta l4proto {{ tcp, udp }} "
        "th dport 53 accept",
        f"add rule inet {t} v{i}_in goto v{i}_deny",
        f"add chain inet {t} v{i}",
        f"add rule inet {t} v{i} ip daddr {{ {denied} }} goto v{i}_deny",
        f"add rule inet {t} v{i} ip daddr {pool} goto v{i}_deny",
        f"add rule inet {t} v{i} ip daddr . meta l4proto . th dport @guarded goto v{i}_deny",
        f"add rule inet {t} v{i} meta l4proto {{ tcp, udp }} th dport 53 goto v{i}_deny",
        f"add rule inet {t} v{i} ip daddr . meta l4proto . th dport @v{i}_static accept",
        f"add rule inet {t} v{i} ip daddr . meta l4proto . th dport @v{i}_dyn accept",
        f"add rule inet {t} v{i} meta l4proto icmp ip daddr @v{i}_icmp accept",
        f"add rule inet {t} v{i} meta l4proto icmp ip daddr @v{i}_icmpdyn accept",
    ]
    if rules.internet:
        private = ", ".join(str(n) for n in NON_PUBLIC_V4)
        lines.append(
            f"add rule inet {t} v{i} meta l4proto {{ tcp, udp, icmp }} "
            f"ip daddr != {{ {private} }} accept"
        )
    lines += [
        f"add rule inet {t} v{i} meta nfproto ipv6 goto v{i}_deny",
        f"add rule inet {t} v{i} goto v{i}_deny",
    ]
    if static:
        lines.append(f"add element inet {t} v{i}_static {{ {', '.join(static)} }}")
    if icmp_nets:
        lines.append(f"add element inet {t} v{i}_icmp {{ {', '.join(icmp_nets)} }}")
    lines += [
        f'add element inet {t} v_in {{ "{rules.ifname}" : jump v{i}_in }}',
        f'add element inet {t} v_fwd {{ "{rules.ifname}" : jump v{i} }}',
    ]
    return "\n".join(lines) + "\n"


def remove_version(tag: str, rules_index: int, ifname: str) -> str:
    t, i = table_name(tag), rules_index
    return (
        f'delete element inet {t} v_in {{ "{ifname}" }}\n'
        f'delete element inet {t} v_fwd {{ "{ifname}" }}\n'
        f"delete chain inet {t} v{i}\n"
        f"delete chain inet {t} v{i}_in\n"
        f"delete chain inet {t} v{i}_deny\n"
        f"delete set inet {t} v{i}_static\n"
        f"delete set inet {t} v{i}_dyn\n"
        f"delete set inet {t} v{i}_icmp\n"
        f"delete set inet {t} v{i}_icmpdyn\n"
        f"delete counter inet {t} v{i}_denied\n"
    )


def answer_elements(
    tag: str, index: int, addrs: Iterable[IPv4Address], ports: Sequence[tuple[int, int]], ttl: int
) -> str:
    """What the resolver adds for one answer: its addresses, for the name's ports, for `ttl`."""
    t = table_name(tag)
    addrs = list(addrs)
    ttl = max(ttl, 1)
    grants = [Grant(IPv4Network(a), tuple(ports)) for a in addrs]
    elements = [f"{e} timeout {ttl}s" for e in grant_elements(grants)]
    icmp = [f"{a} timeout {ttl}s" for a in addrs]
    if not elements:
        return ""
    # `add` leaves an existing element's timeout as it was: add (a no-op if present), delete
    # and add again, in one transaction, so that a fresh answer restarts the element's TTL.
    out = []
    for name, items in ((f"v{index}_dyn", elements), (f"v{index}_icmpdyn", icmp)):
        bare = ", ".join(e.rsplit(" timeout ", 1)[0] for e in items)
        out += [
            f"add element inet {t} {name} {{ {bare} }}",
            f"delete element inet {t} {name} {{ {bare} }}",
            f"add element inet {t} {name} {{ {', '.join(items)} }}",
        ]
    return "\n".join(out) + "\n"


# Landlock takes one rule per port: past this many, it leaves connect to the filter alone.
LANDLOCK_MAX_PORTS = 256


@dataclass(frozen=True)
class EgressGrants:
    """What one version may reach, as the sandbox sees it (made from the domain's policy).

    `grants` are addresses and CIDRs; `names` the DNS names the resolver answers for, each
    with its ports; `internet` every public address. Metadata, the pool and the protected
    addresses are denied whatever this says (see `version_ruleset`).
    """

    grants: tuple[Grant, ...] = ()
    names: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = ()
    internet: bool = False
    unlocked: tuple[IPv4Network, ...] = ()  # always-denied addresses listed exactly

    def name_ports(self) -> dict[str, tuple[tuple[int, int], ...]]:
        merged: dict[str, list[tuple[int, int]]] = {}
        for name, ports in self.names:
            merged.setdefault(name, []).extend(ports or ALL_PORTS)
        return {name: tuple(sorted(set(ports))) for name, ports in merged.items()}

    def connect_ports(self) -> list[int] | None:
        """The TCP ports for Landlock (53 for DNS over TCP), or None for every port."""
        if self.internet:
            return None
        ranges = [r for g in self.grants for r in (g.ports or ALL_PORTS)]
        ranges += [r for _name, ports in self.names for r in (ports or ALL_PORTS)]
        if sum(hi - lo + 1 for lo, hi in ranges) > LANDLOCK_MAX_PORTS:
            return None
        return sorted({53} | {p for lo, hi in ranges for p in range(lo, hi + 1)})


def grants_for(policy: EgressPolicy) -> EgressGrants | None:
    """The sandbox's view of a version's policy; None for `none` (no link at all).

    IPv6 destinations are dropped here: a version's namespace has no IPv6 route.
    """
    if policy.mode == "none":
        return None
    grants = tuple(
        Grant(d.network, d.ports) for d in policy.destinations if isinstance(d.network, IPv4Network)
    )
    names = tuple((d.host, d.ports) for d in policy.destinations if d.host is not None)
    unlocked = tuple(n for n in unlocked_denied(policy) if isinstance(n, IPv4Network))
    return EgressGrants(grants, names, policy.mode == "internet", unlocked)


def denied_for(grants: EgressGrants) -> tuple[IPv4Network, ...]:
    """The always-denied IPv4 networks, less those the policy (and its bound) list exactly."""
    return tuple(
        n for n in ALWAYS_DENIED if isinstance(n, IPv4Network) and n not in grants.unlocked
    )


NON_PUBLIC_V4 = tuple(n for n in NON_PUBLIC if isinstance(n, IPv4Network))
