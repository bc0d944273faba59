"""A real `sandlot serve` killed with SIGKILL while a version with a policy is live: the next
start on the same data dir leaves nothing of the old run's network (its nftables table's
chains, its veth, its version's network namespace). SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sandlot.config import SandboxMode
from sandlot.sandbox.egress_probe import egress_support
from tests.conftest import (
    ADMIN_KEY,
    SANDBOX_MODE,
    LiveServer,
    skip_outside_ci,
    start_server,
    stop_server,
    zip_bytes,
)
from tests.sandbox.egress_world import API, World

CALLER = {
    "main.py": (
        "import socket\n"
        "def handler(event, context):\n"
        "    with socket.create_connection(('api.test', 443), timeout=3) as s:\n"
        "        return s.recv(100).decode()\n"
    )
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    if SANDBOX_MODE is not SandboxMode.STRICT or not egress_support(route_table=1).ok:
        skip_outside_ci("egress needs the strict sandbox, root, nftables and veth")
    built = World(tag=f"k{os.getpid() % 1000:03d}", table=40000 + os.getpid() % 10000,
                  hosts_file=tmp_path / "hosts")  # fmt: skip
    try:
        built.build()
        yield built
    finally:
        built.close()


def _out(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10).stdout


def _links() -> set[str]:
    return {
        line.split(":")[1].strip().split("@")[0] for line in _out("ip", "-o", "link").splitlines()
    }


def _tables() -> set[str]:
    return {line.split()[-1] for line in _out("nft", "list", "tables").splitlines()}


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found - {root}


def _netns_of(pids: set[int]) -> set[str]:
    found = set()
    for pid in pids:
        try:
            found.add(os.readlink(f"/proc/{pid}/ns/net"))
        except OSError:
            continue
    return found


def _netns_in_use() -> set[str]:
    return _netns_of({int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()})


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)  # the kernel tears a namespace down after its last process is gone
    assert check(), what


def _serve(tmp_path: Path, world: World, database_url: str) -> LiveServer:
    pid = os.getpid()
    return start_server(tmp_path / "data", {
        "SANDLOT_DATABASE_URL": database_url,
        "SANDLOT_EGRESS_SUBNET": f"100.66.{pid % 200 + 20}.0/24",
        "SANDLOT_EGRESS_SUBNET6": f"fdec:6b:{pid % 65536:x}::/48",
        "SANDLOT_EGRESS_ROUTE_TABLE": str(world.table),
        "SANDLOT_EGRESS_HOSTS_FILE": str(world.hosts_file),
        "SANDLOT_EGRESS_DEFAULT_BOUND": "api.test:443",
    })  # fmt: skip


def test_a_start_after_kill_9_removes_the_old_runs_network(
    tmp_path: Path, world: World, database_url: str
) -> None:
    links_before, tables_before = _links(), _tables()
    ours = os.readlink("/proc/self/ns/net")
    server = _serve(tmp_path, world, database_url)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                          timeout=60) as client:  # fmt: skip
            made = client.post(
                "/api/v1/functions",
                data={"name": "caller", "egress": '["api.test:443"]'},
                files={"code": ("code.zip", zip_bytes(CALLER), "application/zip")},
            )
            assert made.status_code == 201, made.text
            called = client.post("/api/v1/functions/caller/invoke", json={})
            assert called.status_code == 200, called.text
            assert called.json() == f"{API}:443"
        veths = {name for name in _links() - links_before if name.startswith("sl")}
        [table] = {t for t in _tables() - tables_before if t.startswith("sandlot_")}
        version_netns = _netns_of(_descendants(server.process.pid)) - {ours}
        assert veths and version_netns
        assert "chain v0 " in _out("nft", "list", "table", "inet", table)

        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        # What a kill -9 leaves: the table with the dead run's version chain in it.
        assert "chain v0 " in _out("nft", "list", "table", "inet", table)

        server = _serve(tmp_path, world, database_url)
        listed = _out("nft", "list", "table", "inet", table)
        assert "chain v0 " not in listed and "map v_fwd" in listed  # replaced, not added to
        _until(lambda: not veths & _links(), f"the old run's veths {veths} are gone")
        _until(lambda: not version_netns & _netns_in_use(), "the old version's netns is gone")
    finally:
        if server.process.poll() is None:
            stop_server(server)
    assert table not in _tables()  # a clean stop removes its table
