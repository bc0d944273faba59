"""A cluster at work, nothing broken: two API servers (`serve --role api`) and three workers
on one private PostgreSQL. Sync calls through either API server run on a worker and answer
the handler's result; async calls are accepted (202), run on workers and end succeeded; a
version's calls stay on the worker that is warm for it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cluster.harness import Cluster, check_accepted, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_sync_calls_through_either_api_server_run_on_a_worker(cluster: Cluster) -> None:
    cluster.deploy("hello")
    for api in (0, 1):
        answer = cluster.invoke("hello", cluster.event(echo=f"via {api}"), api=api)
        assert answer.status_code == 200, answer.text
        assert answer.json()["echo"] == f"via {api}"
        invocation_id = answer.headers["x-sandlot-invocation-id"]
        runs = cluster.runs_of(invocation_id)
        assert list(runs) == [answer.json()["token"]]
        (run,) = runs.values()
        assert cluster.worker_of_pid(run["pid"]) is not None, "it ran on no worker"
    # The API servers run no function themselves: their pool is remote.
    for proc in cluster.apis:
        assert proc.descendants() == set(), proc.name


def test_async_calls_are_accepted_and_end_succeeded_on_workers(cluster: Cluster) -> None:
    cluster.deploy("queued")
    ids = [cluster.accept("queued", cluster.event(echo=i), api=i % 2) for i in range(8)]
    records = check_accepted(cluster, ids, "queued")
    for i, invocation_id in enumerate(ids):
        body = records[invocation_id]
        assert (body["result"]["echo"], body["attempt"]) == (i, 1)
        (run,) = cluster.runs_of(invocation_id).values()
        assert cluster.worker_of_pid(run["pid"]) is not None, "it ran on no worker"


def test_a_versions_calls_stay_on_its_warm_worker(cluster: Cluster) -> None:
    cluster.deploy("steady")

    # Callers at once through both API servers, one call each at a time (the version's one
    # instance is enough): every call after the first finds it warm.
    def call(index: int) -> str:
        answer = cluster.invoke("steady", cluster.event(), api=index % 2)
        assert answer.status_code == 200, answer.text
        return str(answer.headers["x-sandlot-invocation-id"])

    first = call(0)
    with ThreadPoolExecutor(2) as callers:
        ids = [first, *callers.map(call, range(1, 30))]
    # A sync call's record is written just after its answer (batched): read once all are.
    records: dict[str, dict[str, object]] = {}

    def recorded() -> bool:
        nonlocal records
        records = cluster.invocations("steady")
        return all(i in records for i in ids)

    until(recorded, "every call's record")
    cold = [i for i in ids if records[i]["cold_start"]]
    pids = {run["pid"] for i in ids for run in cluster.runs_of(i).values()}
    workers = {cluster.worker_of_pid(pid) for pid in pids}
    # Every call ran on a worker warm for the version, and each cold start made an instance
    # that served warm calls after it. Two callers at once need two instances, and a call
    # that arrives while the other's instance is being handed back may start a third; a
    # heartbeat that saw both callers' calls on the version's home worker (all its CPUs
    # busy, on a 2-CPU machine) sends the calls of that beat to the spare prepared at deploy.
    assert 1 <= len(workers) <= 2 and None not in workers, workers
    assert 1 <= len(cold) <= 4, cold
    assert len(pids) == len(cold), (pids, cold)
    holder = max(workers, key=lambda w: sum(cluster.worker_of_pid(p) is w for p in pids))
    assert holder is not None

    # The worker's heartbeat says it is warm for the version; the others are not.
    function_id = records[first]["function_id"]

    def warm_on() -> set[str]:
        return {
            row["url"]
            for row in cluster.registry()
            if any(entry[0] == function_id for entry in row["warm"])
        }

    until(lambda: holder.url in warm_on(), "the holder's heartbeat to say it is warm")
    assert warm_on() <= {proc.url for proc in workers if proc is not None}


SECRET_READER = {
    "main.py": "import os\n"
    "def handler(event, context):\n"
    "    return {'token': 'secret', 'value': os.environ.get('DB_PASSWORD')}\n"
}


def test_a_secret_set_through_one_api_server_reaches_the_workers(cluster: Cluster) -> None:
    put = cluster.client.put(
        f"{cluster.api(1).url}/api/v1/secrets/DB_PASSWORD", json={"value": "sv-cluster-1"}
    )
    assert put.status_code == 200, put.text
    secrets = json.dumps([{"name": "DB_PASSWORD", "as": "env"}])
    cluster.deploy("reader", {"secrets": secrets}, SECRET_READER)
    answer = cluster.invoke("reader", api=1)
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == "sv-cluster-1"
    # Asynchronously, a worker reads the version's secrets from the database itself.
    invocation_id = cluster.accept("reader", api=0)
    (body,) = cluster.wait_final([invocation_id], "reader").values()
    assert (body["state"], body["result"]) == ("succeeded", answer.json()), body
