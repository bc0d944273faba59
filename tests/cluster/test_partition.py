"""A worker cut off from PostgreSQL but not from the API servers: it runs in a network
namespace this test creates (a veth pair, 169.254.231.0/30, nothing else), and a drop rule
in that namespace cuts its path to PostgreSQL's port only.

Under a mixed load: the cut-off worker stops beating, so API servers stop routing to it and
the other workers queue its async calls again; those end once, with the result of their
last run, also after the cut heals and the cut-off worker's late attempts try to write."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.cluster.harness import (
    Cluster,
    Load,
    Proc,
    check_accepted,
    check_settled,
    remove,
    start_cluster,
    until,
)
from tests.cluster.postgres import PrivatePostgres
from tests.conftest import skip_outside_ci

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HOST_IP, NS_IP, NETWORK = "169.254.231.1", "169.254.231.2", "169.254.231.0/30"
LOST = frozenset({"WorkerLost", "LeaseExpired"})


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _nft(namespace: str, script: str) -> None:
    command = ["ip", "netns", "exec", namespace, "nft", "-f", "-"]
    subprocess.run(command, input=script, text=True, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    if os.geteuid() != 0 or subprocess.run(["which", "nft"], capture_output=True).returncode:
        skip_outside_ci("a partition needs root, ip and nft")
    name = f"sltpart{os.getpid() % 100000}"
    host_end, ns_end = f"slh{os.getpid() % 100000}", f"sln{os.getpid() % 100000}"
    _ip("netns", "add", name)
    try:
        _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        _ip("link", "set", ns_end, "netns", name)
        _ip("addr", "add", f"{HOST_IP}/30", "dev", host_end)
        _ip("link", "set", host_end, "up")
        _ip("-n", name, "addr", "add", f"{NS_IP}/30", "dev", ns_end)
        _ip("-n", name, "link", "set", ns_end, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def cluster(private_postgres: PrivatePostgres, namespace: str) -> Iterator[Cluster]:
    """Two API servers, two workers on loopback and one in the namespace."""
    private_postgres.listen_also(HOST_IP, NETWORK)
    started = start_cluster(private_postgres, workers=2)
    try:
        inside = started.add_worker(
            host=NS_IP,
            prefix=("ip", "netns", "exec", namespace),
            SANDLOT_DATABASE_URL=private_postgres.url.replace("127.0.0.1", HOST_IP),
        )
        started.wait_worker_ready(inside)
        started.wait_workers(3)
        yield started
    finally:
        remove(started)


def _cut(namespace: str, port: int) -> None:
    _nft(
        namespace,
        "table inet partition {\n"
        "  chain out { type filter hook output priority 0; policy accept;\n"
        f"    ip daddr {HOST_IP} tcp dport {port} drop\n"
        "  }\n"
        "}\n",
    )


def _heal(namespace: str) -> None:
    _nft(namespace, "delete table inet partition\n")


def _running_on(cluster: Cluster, ids: list[str], proc: Proc) -> list[str]:
    pids = proc.descendants()
    return [i for i in ids if any(r.get("pid") in pids for r in cluster.runs_of(i).values())]


def test_a_worker_cut_off_from_postgres(cluster: Cluster, namespace: str) -> None:
    cluster.deploy("load", {"timeout_s": "5", "max_concurrency": "4"})
    cluster.deploy("slow", {"timeout_s": "5", "max_concurrency": "4"})
    inside = cluster.workers[-1]
    with Load(cluster, "load") as load:
        ids: list[str] = []
        polls = 0

        def inside_runs_one() -> bool:
            nonlocal polls
            polls += 1
            if _running_on(cluster, ids, inside):
                return True
            if polls % 5 == 1:
                ids.extend(cluster.accept("slow", cluster.event(3), api=i) for i in (0, 1))
            return False

        until(inside_runs_one, "a slow async call running on the namespaced worker")
        cut_off = _running_on(cluster, ids, inside)
        _cut(namespace, cluster.postgres.port)
        try:
            until(lambda: len(cluster.live_workers()) == 2, "the cut-off worker to go stale")
            until(
                lambda: all(cluster.invocation(i)["state"] == "succeeded" for i in cut_off),
                "the cut-off worker's calls to be run again elsewhere",
            )
            moment = time.monotonic()
            until(lambda: load.sync_ok_after(moment) >= 5, "sync calls served by the others")
            before = {i: cluster.invocation(i) for i in cut_off}
        finally:
            _heal(namespace)
        until(lambda: len(cluster.live_workers()) == 3, "the healed worker to beat again")
        moment = time.monotonic()
        until(lambda: load.sync_ok_after(moment) >= 5, "sync calls after the heal")
    for body in before.values():
        assert body["attempt"] >= 2 and body["attempts"][0]["error"]["kind"] in LOST, body
    records = check_accepted(cluster, ids, "slow", LOST)
    records.update(check_accepted(cluster, load.accepted, "load", LOST))
    check_settled(cluster, records)
    outcomes = load.outcomes()
    print(f"sync outcomes: {outcomes}; async accepted: {len(load.accepted)}")  # -rA shows it
    assert not [k for k in outcomes if k[0] != 200 and k != (502, "WorkerLost")], outcomes
