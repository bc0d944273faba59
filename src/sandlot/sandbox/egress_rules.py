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
- IPv6 has the same rules with `ip6 daddr` and sets of its own (`v<i>_static6`, ...): one
  `inet` table judges both families. The host's `input` admits neighbour discovery from a veth
  (without it the namespace cannot reach its gateway) and drops its multicast chatter (router
  solicitations, MLD) uncounted: those are the kernel's, never a connect the function made.
- `postrouting`: masquerade out of the host (both families); `prerouting` marks veth traffic
  when a policy routing table is configured (the rules that use the mark are set by `egress_net`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

from sandlot.domain.egress import ALWAYS_DENIED, NON_PUBLIC, EgressPolicy, unlocked_denied

Address = IPv4Address | IPv6Address
Net = IPv4Network | IPv6Network
PROTOS = ("tcp", "udp")
# `ip` / `ip6` match, set type and ICMP protocol name, by IP version.
_FAMILY = {4: ("ip", "ipv4_addr", "icmp", ""), 6: ("ip6", "ipv6_addr", "ipv6-icmp", "6")}
ALL_PORTS = ((0, 65535),)


@dataclass(frozen=True)
class Grant:
    """One allowed network (either family) with its port ranges (() means every port)."""

    network: Net
    ports: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class VersionRules:
    index: int  # the version's /30 in the pool, also its chain's and sets' number
    ifname: str  # the host end of its veth
    host_addr: IPv4Address  # the resolver's address
    grants: tuple[Grant, ...]
    internet: bool
    always_denied: tuple[Net, ...]


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
    protected: Sequence[tuple[Address, int]],
    mark: int | None,
    pool6: IPv6Network | None = None,
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
        "  set guarded6 { type ipv6_addr . inet_proto . inet_service; flags interval; }",
        "  chain input {",
        "    type filter hook input priority -5; policy accept;",
        f'    iifname "{ifprefix}*" ct state established,related accept',
        f'    iifname "{ifprefix}*" icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} '
        "accept",
        f'    iifname "{ifprefix}*" ip6 daddr ff00::/8 drop',
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
        *([f'    ip6 saddr {pool6} oifname != "{ifprefix}*" masquerade'] if pool6 else []),
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
    for version, name in ((4, "guarded"), (6, "guarded6")):
        elements = [
            f"{addr} . {proto} . {port}"
            for addr, port in protected
            if addr.version == version
            for proto in PROTOS
        ]
        if elements:
            lines.append(f"add element inet {table} {name} {{ {', '.join(elements)} }}")
    return "\n".join(lines) + "\n"


def version_ruleset(
    tag: str, pool: IPv4Network, rules: VersionRules, pool6: IPv6Network | None = None
) -> str:
    """A version's chains and sets, and its entries in the verdict maps."""
    t, i = table_name(tag), rules.index
    lines = [
        f"add counter inet {t} v{i}_denied",
        f"add chain inet {t} v{i}_deny",
        # IPv6's admin-prohibited reaches the caller as EACCES, which would read as Landlock's
        # refusal; address-unreachable gives EHOSTUNREACH, as IPv4's admin-prohibited does.
        f'add rule inet {t} v{i}_deny meta nfproto ipv6 counter name "v{i}_denied" '
        "reject with icmpv6 addr-unreachable",
        f'add rule inet {t} v{i}_deny counter name "v{i}_denied" '
        "reject with icmpx admin-prohibited",
        f"add chain inet {t} v{i}_in",
        f"add rule inet {t} v{i}_in ip daddr {rules.host_addr} meta l4proto {{ tcp, udp }} "
        "th dport 53 accept",
        f"add rule inet {t} v{i}_in goto v{i}_deny",
        f"add chain inet {t} v{i}",
    ]
    for version in (4, 6):
        lines += _family_sets(t, i, version)
    # Denials first, for both families, then what is allowed: no grant can reopen them.
    pools: tuple[Net | None, ...] = (pool, pool6)
    for version, own_pool in zip((4, 6), pools, strict=True):
        ip, _type, _icmp, sfx = _FAMILY[version]
        denied = [str(n) for n in rules.always_denied if n.version == version]
        placeholder = "255.255.255.255" if version == 4 else "::"
        lines.append(
            f"add rule inet {t} v{i} {ip} daddr {{ {', '.join(denied) or placeholder} }} "
            f"goto v{i}_deny"
        )
        if own_pool is not None:
            lines.append(f"add rule inet {t} v{i} {ip} daddr {own_pool} goto v{i}_deny")
        lines.append(
            f"add rule inet {t} v{i} {ip} daddr . meta l4proto . th dport @guarded{sfx} "
            f"goto v{i}_deny"
        )
    lines.append(f"add rule inet {t} v{i} meta l4proto {{ tcp, udp }} th dport 53 goto v{i}_deny")
    for version in (4, 6):
        lines += _family_accepts(t, i, version, rules)
    lines.append(f"add rule inet {t} v{i} goto v{i}_deny")
    for version in (4, 6):
        lines += _family_elements(t, i, version, rules.grants)
    lines += [
        f'add element inet {t} v_in {{ "{rules.ifname}" : jump v{i}_in }}',
        f'add element inet {t} v_fwd {{ "{rules.ifname}" : jump v{i} }}',
    ]
    return "\n".join(lines) + "\n"


def _set_names(i: int, version: int) -> tuple[str, str, str, str]:
    sfx = _FAMILY[version][3]
    return f"v{i}_static{sfx}", f"v{i}_dyn{sfx}", f"v{i}_icmp{sfx}", f"v{i}_icmpdyn{sfx}"


def _family_sets(t: str, i: int, version: int) -> list[str]:
    addr_type = _FAMILY[version][1]
    concat = f"{addr_type} . inet_proto . inet_service"
    static, dyn, icmp, icmpdyn = _set_names(i, version)
    return [
        f"add set inet {t} {static} {{ type {concat}; flags interval; }}",
        f"add set inet {t} {dyn} {{ type {concat}; flags interval,timeout; }}",
        f"add set inet {t} {icmp} {{ type {addr_type}; flags interval; }}",
        f"add set inet {t} {icmpdyn} {{ type {addr_type}; flags timeout; }}",
    ]


def _family_accepts(t: str, i: int, version: int, rules: VersionRules) -> list[str]:
    ip, _type, icmp_proto, _sfx = _FAMILY[version]
    static, dyn, icmp, icmpdyn = _set_names(i, version)
    lines = [
        f"add rule inet {t} v{i} {ip} daddr . meta l4proto . th dport @{static} accept",
        f"add rule inet {t} v{i} {ip} daddr . meta l4proto . th dport @{dyn} accept",
        f"add rule inet {t} v{i} meta l4proto {icmp_proto} {ip} daddr @{icmp} accept",
        f"add rule inet {t} v{i} meta l4proto {icmp_proto} {ip} daddr @{icmpdyn} accept",
    ]
    if rules.internet:
        private = ", ".join(str(n) for n in NON_PUBLIC if n.version == version)
        lines.append(
            f"add rule inet {t} v{i} meta l4proto {{ tcp, udp, {icmp_proto} }} "
            f"{ip} daddr != {{ {private} }} accept"
        )
    return lines


def _family_elements(t: str, i: int, version: int, grants: Iterable[Grant]) -> list[str]:
    mine = [g for g in grants if g.network.version == version]
    static, _dyn, icmp, _icmpdyn = _set_names(i, version)
    lines = []
    if elements := grant_elements(mine):
        lines.append(f"add element inet {t} {static} {{ {', '.join(elements)} }}")
    if nets := sorted({str(g.network) for g in mine}):
        lines.append(f"add element inet {t} {icmp} {{ {', '.join(nets)} }}")
    return lines


def remove_version(tag: str, rules_index: int, ifname: str) -> str:
    t, i = table_name(tag), rules_index
    return (
        f'delete element inet {t} v_in {{ "{ifname}" }}\n'
        f'delete element inet {t} v_fwd {{ "{ifname}" }}\n'
        f"delete chain inet {t} v{i}\n"
        f"delete chain inet {t} v{i}_in\n"
        f"delete chain inet {t} v{i}_deny\n"
        + "".join(f"delete set inet {t} {name}\n" for v in (4, 6) for name in _set_names(i, v))
        + f"delete counter inet {t} v{i}_denied\n"
    )


def answer_elements(
    tag: str, index: int, addrs: Iterable[Address], ports: Sequence[tuple[int, int]], ttl: int
) -> str:
    """What the resolver adds for one answer: its addresses, for the name's ports, for `ttl`."""
    t = table_name(tag)
    ttl = max(ttl, 1)
    out: list[str] = []
    for version in (4, 6):
        mine = [a for a in addrs if a.version == version]
        if not mine:
            continue
        _static, dyn, _icmp, icmpdyn = _set_names(index, version)
        grants = [Grant(ip_network(a), tuple(ports)) for a in mine]
        elements = [f"{e} timeout {ttl}s" for e in grant_elements(grants)]
        icmp = [f"{a} timeout {ttl}s" for a in mine]
        # `add` leaves an existing element's timeout as it was: add (a no-op if present),
        # delete and add again, in one transaction, so a fresh answer restarts its TTL.
        for name, items in ((dyn, elements), (icmpdyn, icmp)):
            bare = ", ".join(e.rsplit(" timeout ", 1)[0] for e in items)
            out += [
                f"add element inet {t} {name} {{ {bare} }}",
                f"delete element inet {t} {name} {{ {bare} }}",
                f"add element inet {t} {name} {{ {', '.join(items)} }}",
            ]
    return "\n".join(out) + "\n" if out else ""


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
    unlocked: tuple[Net, ...] = ()  # always-denied addresses listed exactly

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
    """The sandbox's view of a version's policy; None for `none` (no link at all)."""
    if policy.mode == "none":
        return None
    grants = tuple(Grant(d.network, d.ports) for d in policy.destinations if d.network is not None)
    names = tuple((d.host, d.ports) for d in policy.destinations if d.host is not None)
    return EgressGrants(grants, names, policy.mode == "internet", unlocked_denied(policy))


def denied_for(grants: EgressGrants) -> tuple[Net, ...]:
    """The always-denied networks, less those the policy (and its bound) list exactly."""
    return tuple(n for n in ALWAYS_DENIED if n not in grants.unlocked)
