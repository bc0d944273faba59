"""The egress resolver's answers, over real UDP and TCP on loopback: what a function may ask."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest

from sandlot.sandbox.egress_dns import (
    HOSTS_FILE_TTL_S,
    Address,
    Answerer,
    Resolver,
    host_resolver,
    read_hosts_file,
)
from tests.conftest import free_port

NOERROR, FORMERR, NXDOMAIN, REFUSED = 0, 1, 3, 5
Served = tuple[int, list[tuple[list[Address], int]]]  # the port, and what was admitted


def _query(name: str, qtype: int = 1, qid: int = 0x1234, flags: int = 0x0100) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return (
        struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack("!HH", qtype, 1)
    )


def _rcode_and_addresses(reply: bytes) -> tuple[int, list[str]]:
    _qid, flags, _qd, ancount, _ns, _ar = struct.unpack_from("!HHHHHH", reply)
    # The question is read back as sent; each record then is a 12-byte head and its address.
    pos = reply.index(b"\0", 12) + 5 if ancount else 0
    addresses = []
    for _ in range(ancount):
        size = struct.unpack_from("!H", reply, pos + 10)[0]
        addresses.append(str(ip_address(reply[pos + 12 : pos + 12 + size])))
        pos += 12 + size
    return flags & 0xF, sorted(addresses)


@pytest.fixture
async def served(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "# test names\n198.18.0.10 api.test API2.test\n198.18.0.11 other.test\n"
        "2001:2::10 api.test v6.test\n"
    )
    admitted: list[tuple[list[Address], int]] = []

    async def admit(addrs: list[Address], ports: tuple[tuple[int, int], ...], ttl: int) -> None:
        admitted.append((addrs, ttl))

    names = {"api.test": ((443, 443),), "api2.test": (), "v6.test": ()}
    ipv6 = getattr(request, "param", False)
    answerer = Answerer(names, host_resolver(read_hosts_file(hosts)), admit, ipv6=ipv6)
    port = free_port()
    resolver = await Resolver.serve("127.0.0.1", answerer, port=port)
    try:
        yield port, admitted
    finally:
        resolver.close()


async def _udp(port: int, packet: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, packet)
        return await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)


async def test_only_allowed_names_resolve_and_their_answers_are_admitted_first(
    served: Served,
) -> None:
    port, admitted = served
    assert _rcode_and_addresses(await _udp(port, _query("api.test"))) == (NOERROR, ["198.18.0.10"])
    assert admitted == [([IPv4Address("198.18.0.10")], HOSTS_FILE_TTL_S)]
    assert _rcode_and_addresses(await _udp(port, _query("API2.Test")))[0] == NOERROR  # any case
    assert _rcode_and_addresses(await _udp(port, _query("other.test"))) == (NXDOMAIN, [])
    assert _rcode_and_addresses(await _udp(port, _query("api.test", qtype=28))) == (NOERROR, [])
    assert len(admitted) == 2  # neither the refused name nor the AAAA question admitted anything
    # No IPv6 link: a name with IPv6 addresses only is there, with nothing to hand out.
    assert _rcode_and_addresses(await _udp(port, _query("v6.test"))) == (NOERROR, [])
    assert _rcode_and_addresses(await _udp(port, _query("v6.test", qtype=28))) == (NOERROR, [])
    assert len(admitted) == 2


@pytest.mark.parametrize("served", [True], indirect=True)
async def test_a_version_with_ipv6_gets_aaaa_answers_admitted_first(served: Served) -> None:
    port, admitted = served
    assert _rcode_and_addresses(await _udp(port, _query("api.test", qtype=28))) == (
        NOERROR,
        ["2001:2::10"],
    )
    assert admitted == [([IPv6Address("2001:2::10")], HOSTS_FILE_TTL_S)]
    # A name with an AAAA record only: its A question is empty, not NXDOMAIN.
    assert _rcode_and_addresses(await _udp(port, _query("v6.test"))) == (NOERROR, [])
    assert _rcode_and_addresses(await _udp(port, _query("v6.test", qtype=28))) == (
        NOERROR,
        ["2001:2::10"],
    )
    assert _rcode_and_addresses(await _udp(port, _query("other.test", qtype=28))) == (NXDOMAIN, [])


async def test_odd_questions_get_errors_not_answers(
    served: Served,
) -> None:
    port, admitted = served
    inverse = _query("api.test", flags=0x0900)  # opcode 1
    assert _rcode_and_addresses(await _udp(port, inverse))[0] == REFUSED
    pointer = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    assert _rcode_and_addresses(await _udp(port, pointer))[0] == FORMERR
    assert _rcode_and_addresses(await _udp(port, b"\x00\x01garbage"))[0] == FORMERR
    assert admitted == []


async def test_tcp_answers_the_same(
    served: Served,
) -> None:
    port, _admitted = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        packet = _query("api.test")
        writer.write(struct.pack("!H", len(packet)) + packet)
        size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 5))[0]
        reply = await asyncio.wait_for(reader.readexactly(size), 5)
    finally:
        writer.close()
    assert _rcode_and_addresses(reply) == (NOERROR, ["198.18.0.10"])
