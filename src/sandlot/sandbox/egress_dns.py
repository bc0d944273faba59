"""The resolver a version's namespace uses: answers only for its allowed names.

It listens on the host end of the version's veth (UDP and TCP port 53), the only DNS path the
version's rules leave open. A name the policy lists is resolved on the host (a hosts(5) file
when one is configured, else getaddrinfo) and its IPv4 addresses are handed to `admit` with
their TTL before the answer leaves, so the filter already admits what the function is told;
any other name gets NXDOMAIN, any other question REFUSED. AAAA is answered the same way with
the name's IPv6 addresses when the version has an IPv6 link (else an empty answer); a name
with addresses of the other family only gets an empty answer, not NXDOMAIN, so that a
resolver asking for both keeps the half that exists.

The wire format is written here by hand (one question in, A/AAAA records out: ~80 lines) rather
than with dnslib or dnspython: neither is a dependency yet, and this server needs none of
their breadth; it never follows pointers in what it reads, only in what it writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import cast

log = logging.getLogger(__name__)

HOSTS_FILE_TTL_S = 60  # a hosts-file entry never changes on its own: a fixed, short TTL
RESOLVED_TTL_S = 60  # getaddrinfo does not tell the TTL
_A, _AAAA, _IN = 1, 28, 1
_NOERROR, _FORMERR, _NXDOMAIN, _REFUSED = 0, 1, 3, 5
_HEADER = struct.Struct("!HHHHHH")

Address = IPv4Address | IPv6Address
Resolve = Callable[[str], Awaitable[tuple[list[Address], int]]]


def read_hosts_file(path: Path) -> dict[str, list[Address]]:
    """hosts(5): an address, then names; comments are skipped."""
    table: dict[str, list[Address]] = {}
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        try:
            addr = ip_address(words[0])
        except ValueError:
            continue
        for name in words[1:]:
            table.setdefault(name.lower().rstrip("."), []).append(addr)
    return table


def host_resolver(hosts: Mapping[str, list[Address]] | None) -> Resolve:
    async def resolve(name: str) -> tuple[list[Address], int]:
        if hosts is not None:
            return list(hosts.get(name, [])), HOSTS_FILE_TTL_S
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                name, None, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM
            )
        except OSError:
            return [], RESOLVED_TTL_S
        found = {ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
        return sorted(found, key=lambda a: (a.version, int(a))), RESOLVED_TTL_S

    return resolve


def parse_question(packet: bytes) -> tuple[int, int, str, int, int]:
    """(id, flags, name, qtype, end of question); raises ValueError on anything odd."""
    if len(packet) < _HEADER.size:
        raise ValueError("short")
    qid, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(packet)
    if qdcount != 1 or flags & 0x8000:
        raise ValueError("not one question")
    labels, pos = [], _HEADER.size
    while True:
        length = packet[pos]
        pos += 1
        if length == 0:
            break
        if length > 63:  # a pointer or an extended label: never in a question we accept
            raise ValueError("label")
        labels.append(packet[pos : pos + length].decode("ascii").lower())
        pos += length
    qtype, qclass = struct.unpack_from("!HH", packet, pos)
    if qclass != _IN:
        raise ValueError("class")
    return qid, flags, ".".join(labels), qtype, pos + 4


def build_answer(
    packet: bytes, end: int, qid: int, flags: int, rcode: int, addrs: list[Address], ttl: int
) -> bytes:
    # QR, opcode and RD copied, RA set (we recurse for the caller), AA clear.
    reply_flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode
    header = _HEADER.pack(qid, reply_flags, 1, len(addrs), 0, 0)
    question = packet[_HEADER.size : end]
    records = b"".join(
        struct.pack(
            "!HHHIH", 0xC00C, _A if addr.version == 4 else _AAAA, _IN, ttl, len(addr.packed)
        )
        + addr.packed
        for addr in addrs
    )
    return header + question + records


@dataclass
class Answerer:
    """Turns one query into one reply for one version."""

    names: Mapping[str, tuple[tuple[int, int], ...]]  # allowed name -> its ports
    resolve: Resolve
    admit: Callable[[list[Address], tuple[tuple[int, int], ...], int], Awaitable[None]]
    # `internet`: every name resolves, but only a listed name's answers are admitted; the
    # rest pass the filter only if public (a name pointing at 10.0.0.5 gains nothing).
    any_name: bool = False
    ipv6: bool = False  # the version has an IPv6 link: AAAA questions get answers

    async def reply(self, packet: bytes) -> bytes | None:
        try:
            qid, flags, name, qtype, end = parse_question(packet)
        except (ValueError, IndexError, UnicodeDecodeError, struct.error):
            if len(packet) >= 2:
                return struct.pack(
                    "!HHHHHH", *struct.unpack_from("!H", packet), 0x8000 | 1, 0, 0, 0, 0
                )
            return None
        if (flags >> 11) & 0xF:  # not a standard query
            return build_answer(packet, end, qid, flags, _REFUSED, [], 0)
        ports = self.names.get(name)
        if ports is None and not self.any_name:
            return build_answer(packet, end, qid, flags, _NXDOMAIN, [], 0)
        if qtype not in (_A, _AAAA):
            return build_answer(packet, end, qid, flags, _NOERROR, [], 0)
        found, ttl = await self.resolve(name)
        if not found:
            return build_answer(packet, end, qid, flags, _NXDOMAIN, [], 0)
        version = 4 if qtype == _A else 6
        addrs = [a for a in found if a.version == version] if version == 4 or self.ipv6 else []
        if addrs and ports is not None:  # before the answer: the filter admits it first
            await self.admit(addrs, ports, ttl)
        return build_answer(packet, end, qid, flags, _NOERROR, addrs, ttl)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, answerer: Answerer) -> None:
        self._answerer = answerer
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, data: bytes, addr: tuple[str | int, int]) -> None:
        try:
            reply = await self._answerer.reply(data)
        except Exception:
            log.exception("egress resolver failed on a query")
            return
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)


class Resolver:
    """UDP and TCP on one address, port 53; `close()` stops both."""

    def __init__(self, udp: asyncio.DatagramTransport, tcp: asyncio.Server) -> None:
        self._udp, self._tcp = udp, tcp

    @classmethod
    async def serve(cls, address: str, answerer: Answerer, port: int = 53) -> Resolver:
        loop = asyncio.get_running_loop()
        udp, _proto = await loop.create_datagram_endpoint(
            lambda: _Udp(answerer), local_addr=(address, port)
        )

        async def on_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, TimeoutError):
                while True:
                    size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 10))
                    reply = await answerer.reply(await reader.readexactly(size[0]))
                    if reply is None:
                        break
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
            writer.close()

        tcp = await asyncio.start_server(on_tcp, address, port)
        return cls(udp, tcp)

    def close(self) -> None:
        self._udp.close()
        self._tcp.close()
