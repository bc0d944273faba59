"""A small world for egress tests, made of this machine's own network namespaces only.

One namespace (`world`) holds the test hosts on benchmarking addresses (198.18.0.0/15 and
2001:2::/48) and the metadata addresses, with TCP and UDP listeners that answer with the
address and port they were reached on. A veth links it to the host, and a policy-routing
table of the test's own holds the only routes a function's traffic may take: into `world`.
Sandlot is told to route by that table (`route_table`), whose rules end in `unreachable`, so
the host's default route is never in reach. `close()` removes every namespace, link, route
and process it made.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

API = "198.18.0.10"  # api.test
NEIGHBOUR = "198.18.0.11"  # the next address: never admitted by api.test's answer
GUARDED = "198.18.0.12"  # stands in for the database (a protected address:port)
CIDR_HOST = "198.18.1.5"  # inside 198.18.1.0/24
METADATA = "169.254.169.254"
API6 = "2001:2::10"  # an allowed IPv6 host
NEIGHBOUR6 = "2001:2::11"
CIDR6_HOST = "2001:2:0:1::5"  # inside 2001:2:0:1::/64
V6ONLY = "2001:2::20"  # v6only.test: a name with an AAAA record only
METADATA6 = "fd00:ec2::254"
PORTS = (80, 443, 5432, 8443)
ADDRS = (API, NEIGHBOUR, GUARDED, CIDR_HOST, METADATA)
ADDRS6 = (API6, NEIGHBOUR6, CIDR6_HOST, V6ONLY, METADATA6)

_LISTENER = textwrap.dedent(
    """
    import selectors, socket, sys
    sel = selectors.DefaultSelector()
    addrs, ports = sys.argv[1].split(","), [int(p) for p in sys.argv[2].split(",")]
    for port in ports:
        for family, anywhere in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((anywhere, port))
            s.listen(16)
            sel.register(s, selectors.EVENT_READ)
        for addr in addrs:  # UDP per address: a reply must come from the address asked
            u = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((addr, port))
            sel.register(u, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s.type == socket.SOCK_STREAM:
                conn, _ = s.accept()
                host, port = conn.getsockname()[:2]
                conn.sendall(f"{host}:{port}".encode())
                conn.close()
            else:
                data, peer = s.recvfrom(512)
                s.sendto(b"udp:" + data, peer)
    """
)


def sh(*argv: str, netns: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=10)


@dataclass
class World:
    tag: str
    table: int
    hosts_file: Path
    netns: str = field(init=False)
    host_if: str = field(init=False)
    host_addr: str = field(init=False)
    peer_addr: str = field(init=False)
    host_addr6: str = field(init=False)
    peer_addr6: str = field(init=False)
    listener: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.netns = f"sltw{self.tag}"
        self.host_if = f"sltw{self.tag}h"
        # The link's /30, per run: two test runs on one machine never share an address.
        base = 4 * (os.getpid() % 64)
        self.host_addr, self.peer_addr = f"198.18.255.{base + 1}", f"198.18.255.{base + 2}"
        link6 = f"2001:2:ff:{os.getpid() % 65536:x}"
        self.host_addr6, self.peer_addr6 = f"{link6}::1", f"{link6}::2"

    def build(self) -> None:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "eth0",
           "netns", self.netns)  # fmt: skip
        sh("ip", "addr", "add", f"{self.host_addr}/30", "dev", self.host_if)
        sh("ip", "addr", "add", f"{self.host_addr6}/64", "dev", self.host_if, "nodad")
        sh("ip", "link", "set", self.host_if, "up")
        # Replies to functions come back on this link: forward them (this link only).
        Path(f"/proc/sys/net/ipv4/conf/{self.host_if}/forwarding").write_text("1")
        force6 = Path(f"/proc/sys/net/ipv6/conf/{self.host_if}/force_forwarding")
        if force6.exists():  # Linux 6.17: IPv6 forwarding for this link alone
            force6.write_text("1")
        for cmd in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "addr", "add", f"{self.peer_addr}/30", "dev", "eth0"],
            ["ip", "link", "set", "eth0", "up"],
            *(["ip", "addr", "add", f"{a}/32", "dev", "lo"] for a in (API, NEIGHBOUR, GUARDED)),
            ["ip", "addr", "add", f"{CIDR_HOST}/32", "dev", "lo"],
            ["ip", "addr", "add", f"{METADATA}/32", "dev", "lo"],
            ["ip", "addr", "add", f"{self.peer_addr6}/64", "dev", "eth0", "nodad"],
            *(["ip", "addr", "add", f"{a}/128", "dev", "lo"] for a in ADDRS6),
        ):
            sh(*cmd, netns=self.netns)
        for dest, via in (
            ("198.18.0.0/15", self.peer_addr),
            (f"{METADATA}/32", self.peer_addr),
            ("2001:2::/48", self.peer_addr6),
            (f"{METADATA6}/128", self.peer_addr6),
        ):
            sh("ip", "route", "add", dest, "via", via, "dev", self.host_if,
               "table", str(self.table))  # fmt: skip
        self.hosts_file.write_text(
            f"{API} api.test\n{NEIGHBOUR} neighbour.test\n{CIDR_HOST} cidr.test\n"
            f"{V6ONLY} v6only.test\n"
        )
        self._listen()

    def _listen(self) -> None:
        argv = ["ip", "netns", "exec", self.netns, sys.executable, "-I", "-S", "-c", _LISTENER]
        self.listener = subprocess.Popen(
            [*argv, ",".join((*ADDRS, *ADDRS6)), ",".join(map(str, (*PORTS, 53)))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.listener.stdout is not None
        os.set_blocking(self.listener.stdout.fileno(), False)
        deadline = time.monotonic() + 10
        seen = b""
        while time.monotonic() < deadline and b"ready" not in seen:
            seen += self.listener.stdout.read() or b""
            if self.listener.poll() is not None:
                raise RuntimeError(
                    self.listener.stderr.read().decode() if self.listener.stderr else ""
                )
            time.sleep(0.02)  # polling the listener's first line, bounded by the deadline
        assert b"ready" in seen, "the world's listener did not start"

    def close(self) -> None:
        if self.listener is not None:
            self.listener.kill()
            self.listener.communicate()
        for argv in (
            ["ip", "route", "flush", "table", str(self.table)],
            ["ip", "-6", "route", "flush", "table", str(self.table)],
            ["ip", "link", "del", self.host_if],
            ["ip", "netns", "del", self.netns],
        ):
            subprocess.run(argv, capture_output=True, timeout=10, check=False)
