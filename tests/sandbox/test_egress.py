"""Egress enforcement in the kernel: real sandboxes, a real veth, nftables and the resolver.

Every packet stays on this machine: function traffic is routed only by the world's table
(see egress_world.py), which leads into a namespace this test made.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from pathlib import Path

import pytest

from sandlot.domain.egress import EgressPolicy
from sandlot.sandbox import groupns
from sandlot.sandbox.egress_net import EgressConfig, EgressNetwork
from sandlot.sandbox.egress_probe import egress_support
from sandlot.sandbox.egress_rules import EgressGrants, Grant, grants_for
from sandlot.sandbox.starter import SandboxStarter, launcher_command
from tests.conftest import SANDBOX_UID_BASE, free_port, skip_outside_ci
from tests.sandbox.conftest import make_spec, write_script
from tests.sandbox.egress_world import (
    API,
    API6,
    CIDR6_HOST,
    CIDR_HOST,
    GUARDED,
    METADATA,
    METADATA6,
    NEIGHBOUR,
    NEIGHBOUR6,
    V6ONLY,
    World,
)

# Tries each target and prints one JSON object: what connected (and the far end's own
# address:port), what failed (errno name), what resolved.
_PROBE = """
import errno, json, socket, sys
out = {}
for item in sys.argv[1:]:
    kind, rest = item.split(":", 1)
    host, port = rest.rsplit(":", 1)
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    key = item
    try:
        if kind == "dns":
            out[key] = socket.gethostbyname(host)
        elif kind == "dns6":
            out[key] = socket.getaddrinfo(host, None, socket.AF_INET6)[0][4][0]
        elif kind in ("ping", "raw"):  # an ICMP echo socket, or a raw one
            kind_of = socket.SOCK_DGRAM if kind == "ping" else socket.SOCK_RAW
            with socket.socket(socket.AF_INET, kind_of, socket.IPPROTO_ICMP) as s:
                s.settimeout(1.5)
                s.sendto(b"\\x08\\0\\0\\0\\0\\0\\0\\0", (host, 0))
                out[key] = "reply:%d" % len(s.recv(100))
        elif kind == "udp":
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(1.5)
                s.connect((host, int(port)))  # connected: an ICMP error reaches recv
                s.send(b"x")
                out[key] = s.recv(100).decode()
        else:
            with socket.create_connection((host, int(port)), timeout=3) as s:
                out[key] = s.recv(100).decode()
    except socket.gaierror as exc:
        out[key] = "gaierror"
    except TimeoutError:
        out[key] = "timeout"
    except OSError as exc:
        out[key] = errno.errorcode.get(exc.errno, str(exc))
print(json.dumps(out))
"""


@pytest.fixture
async def world(sandbox_supported: None, tmp_path: Path) -> AsyncIterator[World]:
    if os.geteuid() != 0 or not egress_support(route_table=1).ok:
        skip_outside_ci(f"egress cannot be enforced here: {egress_support(route_table=1)}")
    tag = f"{os.getpid() % 10000:04d}"
    built = World(tag=tag, table=30000 + os.getpid() % 20000, hosts_file=tmp_path / "hosts")
    try:
        built.build()
        yield built
    finally:
        built.close()


@pytest.fixture
async def egress_starter(world: World, tmp_path: Path) -> AsyncIterator[SandboxStarter]:
    third = os.getpid() % 200 + 20
    network = EgressNetwork(
        EgressConfig(
            pool=IPv4Network(f"100.64.{third}.0/24"),
            protected=((IPv4Address(GUARDED), 5432),),
            route_table=world.table,
            pool6=IPv6Network(f"fdec:5a:{os.getpid() % 65536:x}::/48") if _ipv6() else None,
        ),
        str(tmp_path / "run"),
    )
    sandbox = SandboxStarter(
        tmp_path / "run",
        uid_base=SANDBOX_UID_BASE,
        egress=network,
        egress_hosts_file=world.hosts_file,
    )
    try:
        yield sandbox
    finally:
        await sandbox.close()
    _assert_nothing_left(network)


def _ipv6() -> bool:
    return egress_support(route_table=1).ipv6


def _links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def _assert_nothing_left(network: EgressNetwork) -> None:
    # A veth goes with its namespace, whose teardown the kernel defers: poll, bounded.
    deadline = time.monotonic() + 15
    while network.ifprefix in _links() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert network.ifprefix not in _links()
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    assert network.table not in tables.stdout
    rules = subprocess.run(["ip", "rule"], capture_output=True, text=True, check=True)
    assert hex(network.mark) not in rules.stdout


def _pool(sandbox: SandboxStarter) -> IPv4Network:
    assert sandbox.egress is not None
    return sandbox.egress.config.pool


async def _probe(
    sandbox: SandboxStarter, tmp_path: Path, group: str, policy: list[str], *targets: str
) -> dict[str, str]:
    script = write_script(tmp_path, _PROBE, name=f"code-{group}")
    out_path = tmp_path / f"{group}.out"
    with out_path.open("wb") as out:
        spec = make_spec(
            script, group=group, args=targets, stdout_fd=out.fileno(), stderr_fd=out.fileno()
        )
        spec = spec.__class__(**{**spec.__dict__, "egress": grants_for(EgressPolicy.parse(policy))})
        handle = await sandbox.start(spec)
    try:
        await handle.wait()
    finally:
        await handle.cleanup()
    text = out_path.read_text()
    try:
        return dict(json.loads(text.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        raise AssertionError(text) from None


async def test_none_reaches_nothing(egress_starter: SandboxStarter, tmp_path: Path) -> None:
    got = await _probe(
        egress_starter, tmp_path, "none", ["none"], f"tcp:{API}:443", "dns:api.test:0",
        f"udp:{API}:443",
    )  # fmt: skip
    assert got[f"tcp:{API}:443"] in {"EACCES", "ENETUNREACH"}
    assert got["dns:api.test:0"] == "gaierror"
    assert got[f"udp:{API}:443"] == "ENETUNREACH"


async def test_an_allow_list_admits_its_destinations_and_nothing_else(
    egress_starter: SandboxStarter, tmp_path: Path
) -> None:
    # Stands in for Sandlot's own port on every host address. Its port is in a grant, so
    # Landlock lets the connect through, and only the host's input rules are left to stop it.
    server = socket.create_server(("0.0.0.0", free_port()))
    port = server.getsockname()[1]
    policy = [
        "api.test:443", "198.18.1.0/24:53,80", "198.18.0.0/24:5432", "169.254.0.0/16:80",
        f"198.18.2.0/24:{port}",
    ]  # fmt: skip
    gateway_addr = _pool(egress_starter).network_address + 1
    with server:
        got = await _probe(
            egress_starter, tmp_path, "v1", policy,
            "dns:api.test:0", "tcp:api.test:443", f"tcp:{API}:80", f"tcp:{API}:8443",
            f"tcp:{NEIGHBOUR}:443", "dns:neighbour.test:0", f"tcp:{CIDR_HOST}:80",
            f"udp:{CIDR_HOST}:80", f"udp:{CIDR_HOST}:53", f"tcp:{METADATA}:80",
            f"tcp:{GUARDED}:5432", f"tcp:{gateway_addr}:{port}",
        )  # fmt: skip
    assert got == {
        "dns:api.test:0": API,
        "tcp:api.test:443": f"{API}:443",
        f"tcp:{API}:80": "EHOSTUNREACH",  # an allowed port of another grant: not for this host
        f"tcp:{API}:8443": "EACCES",  # no grant has this port: Landlock refuses the connect
        f"tcp:{NEIGHBOUR}:443": "EHOSTUNREACH",  # the neighbour of an allowed name's address
        "dns:neighbour.test:0": "gaierror",  # in the hosts file, but not allowed
        f"tcp:{CIDR_HOST}:80": f"{CIDR_HOST}:80",
        f"udp:{CIDR_HOST}:80": "udp:x",
        f"udp:{CIDR_HOST}:53": "EHOSTUNREACH",  # DNS to anything but Sandlot's resolver
        f"tcp:{METADATA}:80": "EHOSTUNREACH",  # inside an allowed CIDR, still denied
        f"tcp:{GUARDED}:5432": "EHOSTUNREACH",  # the database's address:port
        f"tcp:{gateway_addr}:{port}": "EHOSTUNREACH",  # the server, through the host's address
    }
    assert egress_starter.egress_denied("v1") >= 5


async def test_versions_do_not_share_allowances(
    egress_starter: SandboxStarter, tmp_path: Path
) -> None:
    first = await _probe(egress_starter, tmp_path, "v1", ["api.test:443"], "tcp:api.test:443")
    assert first == {"tcp:api.test:443": f"{API}:443"}
    other = _pool(egress_starter).network_address + 2  # the first version's own address
    # A second version (a new version of the function, or another function) on the same
    # host: the first one's answers and grants are not its own.
    second = await _probe(
        egress_starter, tmp_path, "v2", [f"{NEIGHBOUR}:443", "internet"],
        f"tcp:{API}:443", f"tcp:{NEIGHBOUR}:443", "dns:api.test:0", f"tcp:{METADATA}:443",
        f"tcp:{other}:443",
    )  # fmt: skip
    # Unreachable by route (the world's table has no route into the pool) or by rule.
    assert second.pop(f"tcp:{other}:443") in {"EHOSTUNREACH", "ENETUNREACH"}
    assert second == {
        f"tcp:{API}:443": "EHOSTUNREACH",
        f"tcp:{NEIGHBOUR}:443": f"{NEIGHBOUR}:443",
        # `internet` resolves every name, but an answer admits only what is public anyway.
        "dns:api.test:0": API,
        f"tcp:{METADATA}:443": "EHOSTUNREACH",  # `internet` never includes metadata
    }


def test_a_new_start_removes_what_a_killed_server_left(world: World, tmp_path: Path) -> None:
    config = EgressConfig(
        pool=IPv4Network(f"100.65.{os.getpid() % 200 + 20}.0/24"), protected=(),
        route_table=world.table,
    )  # fmt: skip
    killed = EgressNetwork(config, str(tmp_path / "run"))
    killed.start()
    ns = groupns.create(launcher_command())
    link = killed.attach(ns.netns_fd, EgressGrants((Grant(IPv4Network(f"{API}/32")),)))
    ns.close()  # what `kill -9` of the server does: its descriptors close, the rules stay
    listed = subprocess.run(["nft", "list", "table", "inet", killed.table], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert f"chain v{link.index} " in listed
    again = EgressNetwork(config, str(tmp_path / "run"))  # the next start on that run dir
    again.start()
    listed = subprocess.run(["nft", "list", "table", "inet", again.table], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert f"chain v{link.index} " not in listed and "v_fwd" in listed
    rules = subprocess.run(["ip", "rule"], capture_output=True, text=True, check=True).stdout
    assert rules.count(hex(again.mark)) == 2  # its own two, not the killed run's as well
    again.stop()
    _assert_nothing_left(again)


async def test_ipv6_destinations_follow_the_same_rules(
    egress_starter: SandboxStarter, tmp_path: Path
) -> None:
    if not _ipv6():
        skip_outside_ci(f"this host does not forward IPv6: {egress_support(route_table=1)}")
    # Stands in for Sandlot's own port on the host's IPv6 addresses (its port is granted
    # elsewhere, so only the host's input rules are left to stop it).
    server = socket.create_server(("::", free_port()), family=socket.AF_INET6)
    port = server.getsockname()[1]
    policy = [
        f"[{API6}]:443", "[2001:2:0:1::/64]:80", "v6only.test:443", "[fd00:ec2::/64]:80",
        f"[2001:2:0:2::/64]:{port}", "internet",
    ]  # fmt: skip
    assert egress_starter.egress is not None and egress_starter.egress.config.pool6 is not None
    gateway6 = egress_starter.egress.config.pool6.network_address + 1  # the first version's
    with server:
        got = await _probe(
            egress_starter, tmp_path, "v6", policy,
            f"tcp:[{API6}]:443", f"tcp:[{API6}]:80", f"tcp:[{NEIGHBOUR6}]:443",
            f"tcp:[{CIDR6_HOST}]:80", f"udp:[{CIDR6_HOST}]:80", f"tcp:[{METADATA6}]:80",
            "dns6:v6only.test:0", "tcp:v6only.test:443", "dns:v6only.test:0",
            f"tcp:[::ffff:{CIDR_HOST}]:80", f"tcp:[{gateway6}]:{port}",
        )  # fmt: skip
    assert got == {
        f"tcp:[{API6}]:443": f"{API6}:443",
        f"tcp:[{API6}]:80": "EHOSTUNREACH",  # another grant's port: not for this host
        # `internet` is every public address: the benchmarking range is not one.
        f"tcp:[{NEIGHBOUR6}]:443": "EHOSTUNREACH",
        f"tcp:[{CIDR6_HOST}]:80": f"{CIDR6_HOST}:80",
        f"udp:[{CIDR6_HOST}]:80": "udp:x",
        f"tcp:[{METADATA6}]:80": "EHOSTUNREACH",  # inside an allowed range, and `internet`
        "dns6:v6only.test:0": V6ONLY,  # an AAAA record only: resolved and admitted
        "tcp:v6only.test:443": f"{V6ONLY}:443",
        "dns:v6only.test:0": "gaierror",  # no A record
        # IPv4-mapped: sent as IPv4, and judged as the IPv4 address (not granted here).
        f"tcp:[::ffff:{CIDR_HOST}]:80": "EHOSTUNREACH",
        f"tcp:[{gateway6}]:{port}": "EHOSTUNREACH",  # the server, through the host's address
    }
    assert egress_starter.egress_denied("v6") >= 5


async def test_functions_cannot_open_icmp_sockets(
    egress_starter: SandboxStarter, tmp_path: Path
) -> None:
    # ICMP would follow the version's rules (its sets admit echo to granted addresses only),
    # but a function gets no ICMP socket at all: a fresh network namespace's
    # ping_group_range admits no group to echo sockets, and seccomp refuses raw ones.
    got = await _probe(
        egress_starter, tmp_path, "icmp", [f"{API}", "internet"],
        f"ping:{API}:0", f"raw:{API}:0", f"ping:{NEIGHBOUR}:0",
    )  # fmt: skip
    assert got == {
        f"ping:{API}:0": "EACCES",
        f"raw:{API}:0": "EPERM",
        f"ping:{NEIGHBOUR}:0": "EACCES",
    }
