"""Faults in a cluster under a mixed load (sync callers and async callers through both API
servers), each with the invariant: every call that got a 202 ends in exactly one terminal
state, with the result of its last run: no superseded attempt writes a result.

The faults: kill -9 of a worker mid-call, kill -9 of an API server, a worker stopped
(SIGSTOP) past worker_stale_s and then continued, a restart of PostgreSQL, a drain under
load. Each test leaves the cluster whole again (two API servers, three live workers)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.harness import Cluster, Load, Proc, check_accepted, check_settled, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

LOST = frozenset({"WorkerLost", "LeaseExpired"})
# A short timeout: a sync call to a stopped worker is given up after timeout_s + 5.
FIELDS = {"timeout_s": "5", "max_concurrency": "4"}


@pytest.fixture(scope="module")
def deployed(cluster: Cluster) -> Cluster:
    cluster.deploy("load", FIELDS)
    cluster.deploy("slow", FIELDS)
    return cluster


@pytest.fixture
def whole(deployed: Cluster) -> Iterator[Cluster]:
    """The cluster with every process up (what an earlier test broke, started again)."""
    restore(deployed)
    yield deployed
    for proc in [*deployed.apis, *deployed.workers]:
        if proc.stopped:
            proc.sigcont()


def restore(cluster: Cluster) -> None:
    for proc in cluster.apis:
        if not proc.alive():
            cluster.restart(proc)
            cluster.wait_api_ready(proc)
    for proc in cluster.workers:
        if not proc.alive():
            cluster.restart(proc)
            cluster.wait_worker_ready(proc)
    cluster.wait_workers(len(cluster.workers))


def _running_on(cluster: Cluster, ids: list[str], proc: Proc) -> list[str]:
    """The calls of `ids` with a run in a function process of `proc`."""
    pids = proc.descendants()
    return [i for i in ids if any(r.get("pid") in pids for r in cluster.runs_of(i).values())]


def _slow_sync(cluster: Cluster, sleep: float, api: int = 0) -> tuple[threading.Thread, list[Any]]:
    """A sync call of `slow` in a thread of its own; the list gets (status, body)."""
    got: list[Any] = []

    def call() -> None:
        answer = cluster.invoke("slow", cluster.event(sleep, echo="sync"), api=api)
        got.append((answer.status_code, answer.json()))

    thread = threading.Thread(target=call)
    thread.start()
    return thread, got


def _sync_run_worker(cluster: Cluster) -> Proc:
    """The worker running the sync call of `slow` (its run's echo is "sync")."""
    found: list[Proc] = []

    def started() -> bool:
        for path in cluster.runs.glob("*.*"):
            text = path.read_text()
            run = json.loads(text) if text else {}
            if run.get("echo") == "sync" and (worker := cluster.worker_of_pid(run["pid"])):
                found.append(worker)
                return True
        return False

    until(started, "the sync call to start on a worker")
    return found[0]


def _sync_failures(load: Load, allowed: set[tuple[int | None, str | None]]) -> None:
    outcomes = load.outcomes()
    print(f"sync outcomes: {outcomes}; async accepted: {len(load.accepted)}")  # -rA shows it
    unexpected = {k: n for k, n in outcomes.items() if k[0] != 200 and k not in allowed}
    assert not unexpected, outcomes
    assert outcomes.get((200, None), 0) > 0, outcomes


def _slow_calls_and_one_running(cluster: Cluster, *, seconds: int) -> tuple[list[str], Proc]:
    """Six slow async calls accepted through both API servers, and a worker running one."""
    ids = [cluster.accept("slow", cluster.event(seconds), api=i % 2) for i in range(6)]
    held: list[Proc] = []

    def one_running() -> bool:
        held[:] = [w for w in cluster.workers if _running_on(cluster, ids, w)]
        return bool(held)

    until(one_running, "a slow async call running on a worker")
    return ids, held[0]


def test_kill_9_of_a_worker_mid_call(whole: Cluster) -> None:
    cluster = whole
    with Load(cluster, "load") as load:
        # Slow async calls on every worker, then a slow sync call on one: the victim.
        ids = [cluster.accept("slow", cluster.event(4), api=i % 2) for i in range(6)]
        until(
            lambda: sum(bool(_running_on(cluster, ids, w)) for w in cluster.workers) >= 2,
            "slow async calls running on two workers",
        )
        thread, got = _slow_sync(cluster, 8)
        victim = _sync_run_worker(cluster)
        # And an async call running there too: more are queued until the victim claims one.
        polls = 0

        def victim_runs_async() -> bool:
            nonlocal polls
            polls += 1
            if _running_on(cluster, ids, victim):
                return True
            if polls % 5 == 0:
                ids.append(cluster.accept("slow", cluster.event(4)))
            return False

        until(victim_runs_async, "an async call running on the sync call's worker", 7)
        on_victim = _running_on(cluster, ids, victim)
        victim.kill_9()
        print(f"killed {victim.name} running async calls {on_victim}")
        thread.join(timeout=60)
        # The sync call that ran there is answered at once: 502 WorkerLost, never retried.
        assert got and got[0][0] == 502 and got[0][1]["error"] == "WorkerLost", got
        until(lambda: len(cluster.live_workers()) == 2, "the victim to go stale")
        moment = time.monotonic()
        until(lambda: load.sync_ok_after(moment) >= 5, "sync calls served by the others")
    records = check_accepted(cluster, ids, "slow", LOST)
    records.update(check_accepted(cluster, load.accepted, "load", LOST))
    # The async calls the victim ran were run again elsewhere, their lost attempt counted.
    for invocation_id in on_victim:
        body = records[invocation_id]
        assert body["attempt"] >= 2, body
        assert body["attempts"][0]["error"]["kind"] in LOST, body
    _sync_failures(load, {(502, "WorkerLost")})
    check_settled(cluster, records)


def test_kill_9_of_an_api_server(whole: Cluster) -> None:
    cluster = whole
    with Load(cluster, "load", sync=2, async_=2) as load:
        until(lambda: len(load.accepted) >= 6, "calls accepted through both API servers")
        victim = cluster.api(1)
        victim.kill_9()
        moment = time.monotonic()
        until(lambda: load.sync_ok_after(moment, api=0) >= 10, "the other API server serving")
        count = len(load.accepted)
        until(lambda: len(load.accepted) >= count + 4, "the other API server accepting")
    records = check_accepted(cluster, load.accepted, "load", frozenset())
    # Calls are answered by the survivor; to the dead one, no connection (status None).
    _sync_failures(load, {(None, None)})
    check_settled(cluster, records)


def test_a_worker_stopped_past_worker_stale_s_writes_no_late_result(whole: Cluster) -> None:
    cluster = whole
    with Load(cluster, "load") as load:
        ids, victim = _slow_calls_and_one_running(cluster, seconds=3)
        stale = _running_on(cluster, ids, victim)
        victim.sigstop()
        try:
            until(lambda: len(cluster.live_workers()) == 2, "the stopped worker to go stale")
            # Its calls are queued again and run elsewhere (the lease goes with the beat).
            until(
                lambda: all(cluster.invocation(i)["state"] == "succeeded" for i in stale),
                "the stopped worker's calls to be run again elsewhere",
            )
            before = {i: cluster.invocation(i) for i in stale}
        finally:
            victim.sigcont()
        # It beats again; whatever its stale attempts do now, they must not write.
        until(lambda: len(cluster.live_workers()) == 3, "the continued worker to beat again")

        def refused() -> bool:
            text = victim.log()
            return "ended late" in text or "no longer this server's" in text

        until(refused, "the continued worker to find its attempts superseded")
        moment = time.monotonic()
        until(lambda: load.sync_ok_after(moment) >= 5, "sync calls after the continue")
    for body in before.values():
        assert body["attempt"] >= 2, body
        assert body["attempts"][0]["error"]["kind"] in LOST, body
    records = check_accepted(cluster, ids, "slow", LOST)
    check_settled(cluster, before)
    check_accepted(cluster, load.accepted, "load", LOST)
    # A sync call caught on the stopped worker is given up (502 WorkerLost), or, once the
    # worker continues, ends past its timeout there (504 FunctionTimedOut): never retried.
    _sync_failures(load, {(502, "WorkerLost"), (504, "FunctionTimedOut")})
    assert records


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_postgres_restart(whole: Cluster, mode: str) -> None:
    """`fast` disconnects every session; `immediate` is a crash (recovery on start)."""
    cluster = whole
    with Load(cluster, "load") as load:
        until(lambda: len(load.accepted) >= 6, "calls accepted")
        cluster.postgres.restart(mode)
        moment = time.monotonic()
        cluster.wait_workers(len(cluster.workers))
        until(lambda: load.sync_ok_after(moment, api=0) >= 3, "API server 0 serving again")
        until(lambda: load.sync_ok_after(moment, api=1) >= 3, "API server 1 serving again")
        count = len(load.accepted)
        until(lambda: len(load.accepted) >= count + 4, "calls accepted again")
    records = check_accepted(cluster, load.accepted, "load", LOST)
    # While the database is away a call may be refused (503), never a 500.
    outcomes = load.outcomes()
    print(f"sync outcomes: {outcomes}; async accepted: {len(load.accepted)}")  # -rA shows it
    allowed = {503, 502}  # 502 only as WorkerLost: a worker's answer lost with its database
    assert not [k for k in outcomes if (k[0] or 0) >= 500 and k[0] not in allowed], outcomes
    assert not [k for k in outcomes if k[0] == 502 and k[1] != "WorkerLost"], outcomes
    check_settled(cluster, records)


def test_a_drain_under_load_fails_no_call(whole: Cluster) -> None:
    cluster = whole
    with Load(cluster, "load") as load:
        ids, victim = _slow_calls_and_one_running(cluster, seconds=2)
        victim_id = cluster.worker_id(victim)
        assert victim_id is not None
        done = cluster.drain(victim)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert victim.process is not None
        assert victim.process.wait(timeout=60) == 0, victim.tail()
        until(lambda: not cluster.has_row(victim_id), "the drained worker's row to go")
        moment = time.monotonic()
        until(lambda: load.sync_ok_after(moment) >= 5, "sync calls after the drain")
    # Nothing failed: every sync call answered 200, every async one ran once and succeeded.
    _sync_failures(load, set())
    records = check_accepted(cluster, ids, "slow", frozenset())
    records.update(check_accepted(cluster, load.accepted, "load", frozenset()))
    check_settled(cluster, records)
