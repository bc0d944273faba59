"""One version's egress, start to end: its link and rules (egress_net) and its resolver.

Made when the version's group is, released with it. The blocking parts (ip, nft) run in a
thread; the resolver runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from sandlot.sandbox.egress_dns import Address, Answerer, Resolver, host_resolver, read_hosts_file
from sandlot.sandbox.egress_net import EgressNetwork, Link
from sandlot.sandbox.egress_rules import EgressGrants


@dataclass
class EgressAttachment:
    network: EgressNetwork
    link: Link
    resolver: Resolver

    async def close(self) -> None:
        self.resolver.close()
        await asyncio.to_thread(self.network.detach, self.link)


async def attach_egress(
    network: EgressNetwork, netns_fd: int, grants: EgressGrants, hosts_file: Path | None
) -> EgressAttachment:
    link = await asyncio.to_thread(network.attach, netns_fd, grants)
    try:
        # Read per version: a test or an operator may change the file between versions.
        hosts = read_hosts_file(hosts_file) if hosts_file is not None else None

        async def admit(addrs: list[Address], ports: tuple[tuple[int, int], ...], ttl: int) -> None:
            await asyncio.to_thread(network.admit, link, addrs, ports, ttl)

        answerer = Answerer(
            grants.name_ports(),
            host_resolver(hosts),
            admit,
            any_name=grants.internet,
            ipv6=link.ns_addr6 is not None,
        )
        resolver = await Resolver.serve(str(link.host_addr), answerer)
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(network.detach, link)
        raise
    return EgressAttachment(network, link, resolver)
