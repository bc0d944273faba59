"""The cluster with the real sandbox (strict), as production runs it: each worker's
functions run under host uids of its own range (SANDLOT_SANDBOX_UID_BASE, one test slot per
worker), so three workers on one host never share a uid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandlot.sandbox.probe import sandbox_support
from tests.cluster.harness import Cluster, remove, start_cluster
from tests.cluster.postgres import PrivatePostgres
from tests.conftest import skip_outside_ci

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
UID_RANGE = 65_536
HANDLER = {
    "main.py": "import os, uuid\n"
    "def handler(event, context):\n"
    "    return {'token': uuid.uuid4().hex, 'echo': event}\n"
}


@pytest.fixture(scope="module")
def cluster(private_postgres: PrivatePostgres) -> Iterator[Cluster]:
    supported, why = sandbox_support()
    if not supported:
        skip_outside_ci(f"no strict sandbox here: {why}")
    started = start_cluster(private_postgres, extra_env={"SANDLOT_SANDBOX": "strict"})
    try:
        yield started
    finally:
        remove(started)


def _host_uids(pids: set[int]) -> set[int]:
    found = set()
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # it ended meanwhile
        for line in status.splitlines():
            if line.startswith("Uid:"):
                found.add(int(line.split()[1]))
    return found


def test_strict_calls_run_under_each_workers_own_uids(cluster: Cluster) -> None:
    cluster.deploy("strict", files=HANDLER)
    for api in (0, 1):
        answer = cluster.invoke("strict", f"via {api}", api=api)
        assert answer.status_code == 200, answer.text
        assert answer.json()["echo"] == f"via {api}"
    ids = [cluster.accept("strict", i, api=i % 2) for i in range(6)]
    records = cluster.wait_final(ids, "strict")
    assert [records[i]["state"] for i in ids] == ["succeeded"] * 6, records
    assert [records[i]["result"]["echo"] for i in ids] == list(range(6))

    ranges = {
        proc.name: range(cluster.uid_bases[proc.name], cluster.uid_bases[proc.name] + UID_RANGE)
        for proc in cluster.workers
    }
    ran_here = 0
    for proc in cluster.workers:
        uids = _host_uids(proc.descendants()) - {0}
        own = {uid for uid in uids if uid in ranges[proc.name]}
        ran_here += bool(own)
        for other, taken in ranges.items():
            if other != proc.name:
                assert not [uid for uid in uids if uid in taken], (proc.name, other, uids)
    assert ran_here >= 1, "no worker holds an instance under its own uids"
    assert not [p.name for p in cluster.apis if p.descendants()], "an API server ran a function"
