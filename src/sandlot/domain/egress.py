"""What a function's network may reach, as plain values and rules (no I/O).

A version carries an `EgressPolicy`: `none` (the default: no network at all), an
allow-list of destinations, or `internet` (every public address, plus any listed
destinations). A namespace carries a bound of the same shape, set by the platform admin,
that its functions' policies must stay within (`within`). The sandbox enforces the
policy; this module only says what it means.

Text form of one destination: `host:port`, `host:port-port`, `host` (every port),
`1.2.3.4:443`, `10.0.5.0/24:5432`, `[2001:db8::1]:443`, `2001:db8::/32`; several port
ranges join with commas (`api.test:80,443`). `internet` and `none` are the two words.
A bound may also name every subdomain of a name: `*.example.com:443`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Literal

from sandlot.domain.errors import InvalidEgressPolicy

Network = IPv4Network | IPv6Network
Mode = Literal["none", "allow", "internet"]
PortRange = tuple[int, int]

MAX_DESTINATIONS = 64
MAX_ITEM_CHARS = 300
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

# The cloud metadata addresses: denied even under `internet` and inside a listed range,
# unless the policy lists exactly this address and the namespace bound lists it too.
ALWAYS_DENIED: tuple[Network, ...] = (
    IPv4Network("169.254.169.254/32"),
    IPv6Network("fd00:ec2::254/128"),
)

# Addresses that are not the public internet: `internet` never includes them; a policy
# reaches them only by listing them (and a bound that lists them too).
NON_PUBLIC: tuple[Network, ...] = tuple(
    ip_network(text)
    for text in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (and the metadata address)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::ffff:0:0/96",  # IPv4-mapped: a listed one is judged as its IPv4 address (_unmapped)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001:2::/48",  # benchmarking
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local (and fd00:ec2::254)
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
)


@dataclass(frozen=True)
class Destination:
    host: str | None  # a DNS name (lower-case, no trailing dot), or None
    network: Network | None  # an address is a /32 or /128
    ports: tuple[PortRange, ...] = ()  # inclusive ranges; () = every port

    def as_text(self) -> str:
        if self.host is not None:
            where = self.host
        else:
            assert self.network is not None
            where = _network_text(self.network, bracket=bool(self.ports))
        if not self.ports:
            return where
        return f"{where}:{_ports_text(self.ports)}"


@dataclass(frozen=True)
class EgressPolicy:
    mode: Mode = "none"
    destinations: tuple[Destination, ...] = ()  # "allow" (and extra grants under "internet")

    def as_text(self) -> list[str]:
        """`["none"]`, or the destinations in order followed by `"internet"` if set."""
        if self.mode == "none":
            return ["none"]
        items = [destination.as_text() for destination in self.destinations]
        return [*items, "internet"] if self.mode == "internet" else items

    @classmethod
    def parse(cls, items: Sequence[str]) -> EgressPolicy:
        """A function's policy from its text form; raises `InvalidEgressPolicy`."""
        return _parse(items, wildcards=False)

    @property
    def is_none(self) -> bool:
        return self.mode == "none"


NONE = EgressPolicy("none")


def parse_bound(items: Sequence[str]) -> EgressPolicy:
    """A namespace's bound: a policy's text form that may also use `*.name` wildcards."""
    return _parse(items, wildcards=True)


def within(policy: EgressPolicy, bound: EgressPolicy) -> str | None:
    """Why `policy` asks for more than `bound` allows, or None when it stays inside."""
    excess = first_excess(policy, bound)
    if excess is None:
        return None
    if bound.mode == "none":
        return f"this namespace allows no network access; the policy asks for {_brief(policy)}"
    return f"'{excess}' exceeds this namespace's bound {_quoted(bound)}"


def first_excess(policy: EgressPolicy, bound: EgressPolicy) -> str | None:
    """The first item of `policy` (in its text form) that `bound` does not allow."""
    if policy.mode == "none":
        return None
    if policy.mode == "internet" and bound.mode != "internet":
        return "internet"
    for destination in policy.destinations:
        if not _covered(destination, bound):
            return destination.as_text()
    return None


def unlocked_denied(policy: EgressPolicy) -> tuple[Network, ...]:
    """The always-denied addresses this policy lists exactly (so the sandbox admits them).

    Listing exactly is the only way: `169.254.0.0/16` or `internet` never reach the
    metadata address. `within` lets a policy list one only if its bound lists it too."""
    listed = {d.network for d in policy.destinations if d.network is not None}
    return tuple(network for network in ALWAYS_DENIED if network in listed)


def is_public(network: Network) -> bool:
    """True when no address of `network` is in a non-public or always-denied range."""
    return not any(_overlaps(network, other) for other in (*NON_PUBLIC, *ALWAYS_DENIED))


# -- coverage -------------------------------------------------------------------------


def _covered(destination: Destination, bound: EgressPolicy) -> bool:
    if destination.network is not None and destination.network in ALWAYS_DENIED:
        # Only the bound's exact listing of a metadata address lets a policy name it.
        return any(
            grant.network == destination.network and _ports_within(destination.ports, grant.ports)
            for grant in bound.destinations
        )
    if bound.mode == "internet" and _public(destination):
        return True
    return any(_grant_covers(grant, destination) for grant in bound.destinations)


def _public(destination: Destination) -> bool:
    # A name is resolved by Sandlot's resolver, whose answers the filter admits; a name
    # cannot be judged public or not here, so `internet` covers every name.
    return destination.network is None or is_public(destination.network)


def _grant_covers(grant: Destination, destination: Destination) -> bool:
    if not _ports_within(destination.ports, grant.ports):
        return False
    if destination.host is not None:
        return grant.host is not None and _name_covers(grant.host, destination.host)
    if grant.network is None or destination.network is None:
        return False
    if grant.network.version != destination.network.version:
        return False
    return destination.network.subnet_of(grant.network)  # type: ignore[arg-type]


def _name_covers(grant: str, host: str) -> bool:
    if grant.startswith("*."):
        return host.endswith(grant[1:])
    return grant == host


def _ports_within(inner: tuple[PortRange, ...], outer: tuple[PortRange, ...]) -> bool:
    if not outer:
        return True
    if not inner:
        return False  # every port is more than a listed few
    return all(any(lo >= o_lo and hi <= o_hi for o_lo, o_hi in outer) for lo, hi in inner)


def _overlaps(a: Network, b: Network) -> bool:
    return a.version == b.version and a.overlaps(b)


# -- parsing --------------------------------------------------------------------------


def _parse(items: Sequence[str], *, wildcards: bool) -> EgressPolicy:
    if isinstance(items, str):
        raise InvalidEgressPolicy("the policy is a list of strings, not one string")
    words = [_clean(item) for item in items]
    if len(words) > MAX_DESTINATIONS + 1:
        raise InvalidEgressPolicy(
            f"at most {MAX_DESTINATIONS} destinations", limit=MAX_DESTINATIONS
        )
    if "none" in words:
        if len(words) > 1:
            raise InvalidEgressPolicy("'none' cannot be combined with destinations", item="none")
        return NONE
    internet = "internet" in words
    destinations: list[Destination] = []
    for word in words:
        if word == "internet":
            continue
        destination = parse_destination(word, wildcards=wildcards)
        if destination not in destinations:
            destinations.append(destination)
    if internet:
        return EgressPolicy("internet", tuple(destinations))
    if not destinations:
        return NONE
    return EgressPolicy("allow", tuple(destinations))


def _clean(item: object) -> str:
    if not isinstance(item, str):
        raise InvalidEgressPolicy("every destination is a string")
    word = item.strip()
    if not word:
        raise InvalidEgressPolicy("a destination is empty", item=item)
    if len(word) > MAX_ITEM_CHARS:
        raise InvalidEgressPolicy(f"a destination is longer than {MAX_ITEM_CHARS} characters")
    return word.lower() if not word.startswith("[") else word


def parse_destination(text: str, *, wildcards: bool = False) -> Destination:
    """One destination from its text form; raises `InvalidEgressPolicy` naming it."""
    where, ports_text = _split_ports(text)
    ports = _parse_ports(ports_text, text) if ports_text is not None else ()
    network = _as_network(where, text)
    if network is not None:
        return Destination(host=None, network=network, ports=ports)
    return Destination(host=_as_host(where, text, wildcards=wildcards), network=None, ports=ports)


def _split_ports(text: str) -> tuple[str, str | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise InvalidEgressPolicy(f"'{text}' opens '[' without closing it", item=text)
        rest = text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidEgressPolicy(f"'{text}': only ':ports' may follow ']'", item=text)
        return text[1:end], (rest[1:] if rest else None)
    if text.count(":") > 1:
        return text, None  # a bare IPv6 address or range; ports need the [ ] form
    if ":" in text:
        where, ports = text.split(":", 1)
        return where, ports
    return text, None


def _parse_ports(text: str, item: str) -> tuple[PortRange, ...]:
    ranges: list[PortRange] = []
    for part in text.split(","):
        lo_text, _, hi_text = part.strip().partition("-")
        lo, hi = _port(lo_text, item), _port(hi_text or lo_text, item)
        if lo > hi:
            raise InvalidEgressPolicy(f"'{item}': port range {lo}-{hi} runs backwards", item=item)
        if (lo, hi) not in ranges:
            ranges.append((lo, hi))
    return tuple(sorted(ranges))


def _port(text: str, item: str) -> int:
    text = text.strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidEgressPolicy(
            f"'{item}': a port is a number from 1 to 65535, not '{text}'", item=item
        )
    return int(text)


def _as_network(where: str, item: str) -> Network | None:
    if not where or not (where[0].isdigit() or ":" in where or "/" in where):
        return None
    try:
        return _unmapped(ip_network(where, strict=True))
    except ValueError as error:
        if "/" in where or ":" in where or _looks_numeric(where):
            message = f"'{item}' is not an address or range: {error}"
            raise InvalidEgressPolicy(message, item=item) from None
        return None  # a name that starts with a digit, like 1password.com


_MAPPED = IPv6Network("::ffff:0:0/96")


def _unmapped(network: Network) -> Network:
    """An IPv4-mapped range (`::ffff:10.0.0.0/104`) as the IPv4 range it stands for.

    The kernel sends a connect to `::ffff:a.b.c.d` as an IPv4 packet, so the filter (and
    `internet`, and the bound) must judge it as `a.b.c.d`, never as an IPv6 address."""
    if isinstance(network, IPv6Network) and network.subnet_of(_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return IPv4Network((mapped, network.prefixlen - 96))
    return network


def _looks_numeric(where: str) -> bool:
    return all(part.isdigit() for part in where.split("."))


def _as_host(where: str, item: str, *, wildcards: bool) -> str:
    host = where.lower().removesuffix(".")
    if wildcards and host.startswith("*."):
        return "*." + _as_host(host[2:], item, wildcards=False)
    labels = host.split(".")
    if (
        len(host) > 253
        or not all(_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidEgressPolicy(
            f"'{item}' is not a host name, an address, a range or 'internet'", item=item
        )
    return host


def _network_text(network: Network, *, bracket: bool) -> str:
    single = network.prefixlen == network.max_prefixlen
    text = str(network.network_address) if single else str(network)
    return f"[{text}]" if bracket and network.version == 6 else text


def _ports_text(ports: tuple[PortRange, ...]) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)


def _brief(policy: EgressPolicy) -> str:
    return ", ".join(policy.as_text())


def _quoted(bound: EgressPolicy) -> str:
    return "(" + ", ".join(bound.as_text()) + ")"
