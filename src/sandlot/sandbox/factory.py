"""Pick the starter the settings ask for: the sandbox (strict) or plain processes (insecure-dev)."""

from __future__ import annotations

import contextlib
import socket
from ipaddress import IPv4Address, IPv6Address, ip_address
from urllib.parse import urlsplit

from sandlot.config import SandboxMode, Settings
from sandlot.domain.errors import ServiceUnavailable
from sandlot.sandbox.egress_net import EgressConfig, EgressNetwork
from sandlot.sandbox.egress_probe import egress_support
from sandlot.sandbox.probe import probe_host, required_missing
from sandlot.sandbox.spec import Starter


def make_starter(settings: Settings) -> Starter:
    """Strict mode refuses to start without every required layer, and says which are missing."""
    if settings.sandbox is SandboxMode.INSECURE_DEV:
        from sandlot.sandbox.plain import PlainStarter

        return PlainStarter()
    missing = required_missing(probe_host())
    if missing:
        names = ", ".join(r.name for r in missing)
        raise ServiceUnavailable(
            f"this host lacks sandbox layers that strict mode requires: {names}. "
            "Run `sandlot doctor` for details, or start with SANDLOT_SANDBOX=insecure-dev "
            "for development only.",
            missing={r.name: r.detail for r in missing},
        )
    from sandlot.sandbox.starter import SandboxStarter

    return SandboxStarter(
        settings.run_dir / "sandbox",
        uid_base=settings.sandbox_uid_base,
        egress=egress_network(settings),
        egress_hosts_file=settings.egress_hosts_file,
    )


def egress_network(settings: Settings) -> EgressNetwork | None:
    """The host side of egress, when this host can enforce it (else every policy is refused)."""
    support = egress_support(settings.egress_route_table)
    if not support.ok:
        return None
    config = EgressConfig(
        pool=settings.egress_subnet,
        protected=_protected(settings),
        route_table=settings.egress_route_table,
        pool6=settings.egress_subnet6 if support.ipv6 else None,
    )
    return EgressNetwork(config, str((settings.run_dir / "sandbox").resolve()))


def _protected(settings: Settings) -> tuple[tuple[IPv4Address | IPv6Address, int], ...]:
    """The server's own, its internal API's (`sandlot worker`) and its database's
    address:port, as addresses (resolved now).

    Local addresses are out of reach anyway (a version may only reach the host's resolver);
    these entries matter when one listens on, or is, another machine's address."""
    found: list[tuple[IPv4Address | IPv6Address, int]] = []
    targets = [(settings.host, settings.port), (settings.worker_host, settings.worker_port)]
    with contextlib.suppress(ValueError):  # SQLite has no host; a malformed URL fails elsewhere
        url = urlsplit(settings.resolved_database_url)
        if url.hostname:
            targets.append((url.hostname, url.port or 5432))
    for host, port in targets:
        with contextlib.suppress(OSError, ValueError):
            for info in socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM):
                found.append((ip_address(str(info[4][0]).split("%", 1)[0]), port))
    return tuple(sorted(set(found), key=lambda item: (item[0].version, int(item[0]), item[1])))
