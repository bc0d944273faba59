"""The API server's pool (services.remote_pool) against real HTTP servers that speak the
internal API (tests/services/fake_worker.py), found through the real registry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from sandlot.domain.cluster import WarmVersion, rendezvous_order
from sandlot.domain.errors import (
    NoWorkerAvailable,
    QuotaExceeded,
    ServiceUnavailable,
    TooManyRequests,
)
from sandlot.domain.states import InvocationState
from sandlot.services import cluster_wire as wire
from sandlot.services.registry import Registry
from sandlot.services.remote_pool import RemotePool
from sandlot.storage.db import Database
from sandlot.worker.interface import CallInfo, VersionSpec
from tests.services.fake_worker import (
    DROP,
    SECRET,
    Answer,
    FakeWorker,
    dead_url,
    info,
    register,
)

SPEC = VersionSpec(
    function_id="fn-hello",
    namespace="default",
    function_name="hello",
    version=2,
    handler="main.handler",
    memory_mb=128,
    timeout_s=5,
    env={},
    code_dir=Path(),
    code_sha256="ab" * 32,
)
KEY = SPEC.key
READY = frozenset({KEY})


class Fleet:
    def __init__(self, database: Database, registry: Registry, pool: RemotePool) -> None:
        self.database = database
        self.registry = registry
        self.pool = pool
        self.workers: list[FakeWorker] = []

    async def add(self, count: int, **fields: object) -> list[FakeWorker]:
        """`count` fake workers, registered, in the version's rendezvous order."""
        made = [FakeWorker(id=f"node{len(self.workers) + i}:run") for i in range(count)]
        for worker in made:
            await worker.start()
        self.workers.extend(made)
        await register(self.database, *(info(w.id, w.url, **fields) for w in made))  # type: ignore[arg-type]
        await self.registry.refresh()
        order = [w.id for w in rendezvous_order(KEY, self.registry.rows)]
        return sorted(made, key=lambda w: order.index(w.id))


@pytest.fixture
async def fleet(migrated_url: str) -> AsyncIterator[Fleet]:
    database = Database(migrated_url)
    registry = Registry(database=database, interval_s=0.1, stale_after_s=5)
    pool = RemotePool(registry=registry, cluster_key=SECRET)
    await pool.start()
    made = Fleet(database, registry, pool)
    try:
        yield made
    finally:
        await pool.close(0)
        for worker in made.workers:
            await worker.close()
        await database.dispose()


def worker_of(outcome_json: bytes | None) -> str:
    assert outcome_json is not None
    answered: str = orjson.loads(outcome_json)["worker"]
    return answered


async def test_a_call_goes_to_a_worker_with_a_warm_idle_instance_signed(fleet: Fleet) -> None:
    home, second, third = await fleet.add(3, ready=READY)
    await register(
        fleet.database,
        info(third.id, third.url, ready=READY, warm=(WarmVersion(*KEY, idle=1, instances=1),)),
    )
    await fleet.registry.refresh()

    outcome = await fleet.pool.invoke(SPEC, "inv-1", b'{"n": 1}', CallInfo(qualifier="prod"))

    assert outcome.state is InvocationState.SUCCEEDED
    assert worker_of(outcome.result_json) == third.id
    assert home.seen == [] and second.seen == []
    (seen,) = third.seen
    assert (seen.method, seen.path, seen.signature_problem) == ("POST", wire.INVOKE_PATH, None)
    assert seen.head["invocation_id"] == "inv-1"
    assert seen.head["spec"]["code_sha256"] == SPEC.code_sha256
    assert seen.head["call"]["qualifier"] == "prod"
    assert seen.payload == b'{"n": 1}'


async def test_refusals_send_the_call_to_the_next_worker(fleet: Fleet) -> None:
    first, second, third = await fleet.add(3, ready=READY)
    first.invoke = Answer(429, wire.WORKER_FULL, {"message": "full"})
    second.invoke = Answer(503, wire.WORKER_DRAINING, {"message": "draining"})

    outcome = await fleet.pool.invoke(SPEC, "inv-2", b"{}")

    assert worker_of(outcome.result_json) == third.id
    assert [w.paths() for w in (first, second, third)] == [[wire.INVOKE_PATH]] * 3
    # Only the last worker to try hears that nobody is left (it takes the call however
    # busy its CPUs are); a busy worker's refusal sends the call on like the others.
    assert [w.seen[0].head["others_left"] for w in (first, second, third)] == [True, True, False]
    first.invoke = Answer(429, wire.WORKER_BUSY, {"message": "busy"})
    outcome = await fleet.pool.invoke(SPEC, "inv-2b", b"{}")
    assert worker_of(outcome.result_json) == third.id


async def test_a_worker_not_prepared_is_prepared_first_then_called(fleet: Fleet) -> None:
    (only,) = await fleet.add(1)  # registered without the version ready

    outcome = await fleet.pool.invoke(SPEC, "inv-3", b"{}")

    assert worker_of(outcome.result_json) == only.id
    assert only.paths() == [wire.PREPARE_PATH, wire.INVOKE_PATH]
    assert only.seen[0].head["spec"]["function_id"] == SPEC.function_id
    # Prepared here: the next call does not prepare again, even before its heartbeat says so.
    await fleet.pool.invoke(SPEC, "inv-4", b"{}")
    assert only.paths() == [wire.PREPARE_PATH, wire.INVOKE_PATH, wire.INVOKE_PATH]


async def test_a_refused_invoke_after_prepare_goes_on_to_the_next(fleet: Fleet) -> None:
    first, second = await fleet.add(2, ready=READY)
    first.invoke = Answer(409, wire.NOT_PREPARED, {"message": "no code here"})

    outcome = await fleet.pool.invoke(SPEC, "inv-5", b"{}")

    assert worker_of(outcome.result_json) == second.id


async def test_a_dead_port_sends_the_call_to_the_next_worker(fleet: Fleet) -> None:
    (alive,) = await fleet.add(1, ready=READY)
    live = fleet.registry.rows[0]
    # A worker ahead of the live one in the version's order, where nothing listens.
    ghost = next(
        g
        for g in (info(f"ghost{i}:run", dead_url(), ready=READY) for i in range(100))
        if rendezvous_order(KEY, [g, live])[0] is g
    )
    await register(fleet.database, ghost)
    await fleet.registry.refresh()

    outcome = await fleet.pool.invoke(SPEC, "inv-6", b"{}")

    assert worker_of(outcome.result_json) == alive.id
    assert alive.paths() == [wire.INVOKE_PATH]


async def test_a_connection_broken_mid_call_is_worker_lost_and_never_retried(
    fleet: Fleet,
) -> None:
    first, second = await fleet.add(2, ready=READY)
    first.invoke = DROP

    outcome = await fleet.pool.invoke(SPEC, "inv-7", b"{}")

    assert outcome.state is InvocationState.FAILED
    assert outcome.error is not None and outcome.error.kind == "WorkerLost"
    assert first.id in outcome.error.message
    assert outcome.invocation_id == "inv-7" and outcome.result_json is None
    assert first.paths() == [wire.INVOKE_PATH]
    assert second.seen == []


async def test_the_workers_error_is_raised_as_the_same_class(fleet: Fleet) -> None:
    first, second = await fleet.add(2, ready=READY)
    first.invoke = Answer(
        429,
        "TooManyRequests",
        {"message": "hello is at its concurrency limit", "retry_after_s": 2},
        {"Retry-After": "2"},
    )
    with pytest.raises(TooManyRequests) as raised:
        await fleet.pool.invoke(SPEC, "inv-8", b"{}")
    assert raised.value.message == "hello is at its concurrency limit"
    assert raised.value.retry_after_s == 2

    first.invoke = Answer(
        403, "QuotaExceeded", {"message": "memory quota", "quota": "memory_mb", "limit": 64}
    )
    with pytest.raises(QuotaExceeded) as quota:
        await fleet.pool.invoke(SPEC, "inv-9", b"{}")
    assert quota.value.detail() == {"message": "memory quota", "quota": "memory_mb", "limit": 64}
    assert second.seen == []


async def test_nobody_left_is_no_worker_available(fleet: Fleet) -> None:
    with pytest.raises(NoWorkerAvailable):
        await fleet.pool.invoke(SPEC, "inv-10", b"{}")  # nobody registered

    workers = await fleet.add(3, ready=READY)
    for worker in workers:
        worker.invoke = Answer(429, wire.WORKER_FULL, {"message": "full"})
    with pytest.raises(NoWorkerAvailable) as raised:
        await fleet.pool.invoke(SPEC, "inv-11", b"{}")
    assert raised.value.retry_after_s == 1
    assert all(w.paths() == [wire.INVOKE_PATH] for w in workers)


async def test_silent_and_draining_workers_get_no_calls(fleet: Fleet) -> None:
    old = datetime.now(UTC) - timedelta(seconds=60)
    silent = FakeWorker(id="silent:run")
    draining = FakeWorker(id="draining:run")
    for worker in (silent, draining):
        await worker.start()
        fleet.workers.append(worker)
    await register(
        fleet.database,
        info(silent.id, silent.url, ready=READY, heartbeat_at=old),
        info(draining.id, draining.url, ready=READY, draining=True),
    )
    await fleet.registry.refresh()

    with pytest.raises(NoWorkerAvailable):
        await fleet.pool.invoke(SPEC, "inv-12", b"{}")
    assert silent.seen == [] and draining.seen == []


async def test_another_secret_is_refused_and_routed_around(fleet: Fleet) -> None:
    (worker,) = await fleet.add(1, ready=READY)
    stranger = RemotePool(registry=fleet.registry, cluster_key=b"another secret" * 3)
    await stranger.start()
    try:
        with pytest.raises(NoWorkerAvailable):
            await stranger.invoke(SPEC, "inv-13", b"{}")
    finally:
        await stranger.close(0)
    (seen,) = worker.seen
    assert seen.signature_problem is not None and "does not match" in seen.signature_problem


async def test_prepare_waits_for_the_first_and_prepares_the_next_in_background(
    fleet: Fleet,
) -> None:
    first, second, third = await fleet.add(3)

    prepared = await fleet.pool.prepare(SPEC)

    assert prepared.error is None and prepared.init_ms == 2.0
    assert first.paths() == [wire.PREPARE_PATH]
    assert first.seen[0].signature_problem is None
    await _until(lambda: second.paths() == [wire.PREPARE_PATH])
    assert third.seen == []


async def test_control_ops_reach_every_worker_and_never_raise(fleet: Fleet) -> None:
    workers = await fleet.add(2, ready=READY)
    await register(fleet.database, info("ghost:run", dead_url()))
    await fleet.registry.refresh()

    await fleet.pool.stop_function(SPEC.function_id)
    await fleet.pool.retain(SPEC.function_id, {2, 1})
    started = await fleet.pool.ensure_warm(SPEC)

    assert started == 2  # one from each live worker
    for worker in workers:
        assert [s.head["op"] for s in worker.seen] == ["stop_function", "retain", "ensure_warm"]
        assert all(s.path == wire.CONTROL_PATH and s.signature_problem is None for s in worker.seen)
        assert worker.seen[1].head["keep"] == [1, 2]


async def test_stats_are_summed_from_the_registry(fleet: Fleet) -> None:
    await fleet.add(2, warm=(WarmVersion(*KEY, idle=1, instances=3, busy=2),))
    stats = fleet.pool.stats()
    assert (stats.instances, stats.max_instances, stats.max_memory_mb) == (6, 16, 4096)
    assert stats.charged_mb == 2 * (2048 - 1024)
    assert fleet.pool.namespace_use("ns").calls == 0


async def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.01)


async def test_the_registry_loop_reads_new_rows_by_itself(fleet: Fleet) -> None:
    await fleet.registry.start()
    try:
        await register(fleet.database, info("late:run", dead_url()))
        await _until(lambda: [w.id for w in fleet.registry.live()] == ["late:run"])
        later = datetime.now(UTC) + timedelta(seconds=60)
        assert fleet.registry.live(later) == []  # silent past stale_after_s
    finally:
        await fleet.registry.close()


async def test_close_lets_the_calls_in_flight_come_back_first(fleet: Fleet) -> None:
    (worker,) = await fleet.add(1, ready=READY)
    worker.hold = asyncio.Event()
    call = asyncio.create_task(fleet.pool.invoke(SPEC, "inv-14", b"{}"))
    await _until(lambda: worker.paths() == [wire.INVOKE_PATH])
    closing = asyncio.create_task(fleet.pool.close(30))
    await _until(lambda: fleet.pool._closing)
    with pytest.raises(ServiceUnavailable):
        await fleet.pool.invoke(SPEC, "inv-15", b"{}")  # nothing new once closing
    assert not closing.done()
    worker.hold.set()
    outcome = await call
    await closing
    assert outcome.state is InvocationState.SUCCEEDED


async def test_a_call_goes_past_a_worker_whose_cpus_this_server_keeps_busy(fleet: Fleet) -> None:
    # Its heartbeat still says idle; the calls this server has in flight there say more.
    home, second = await fleet.add(2, ready=READY, cpus=1.0)
    home.hold = asyncio.Event()
    first = asyncio.create_task(fleet.pool.invoke(SPEC, "inv-cpu-1", b"{}"))
    await _until(lambda: home.paths() == [wire.INVOKE_PATH])
    outcome = await fleet.pool.invoke(SPEC, "inv-cpu-2", b"{}")
    assert outcome.state is InvocationState.SUCCEEDED
    assert second.paths() == [wire.INVOKE_PATH]
    home.hold.set()
    assert (await first).state is InvocationState.SUCCEEDED
    # Answered: the home worker is first again.
    await fleet.pool.invoke(SPEC, "inv-cpu-3", b"{}")
    assert home.paths() == [wire.INVOKE_PATH, wire.INVOKE_PATH]


async def test_busy_workers_take_the_call_when_nobody_else_will(fleet: Fleet) -> None:
    busy, unreachable = await fleet.add(2, ready=READY)
    busy.invoke = Answer(429, wire.WORKER_BUSY, {"message": "busy"})
    await unreachable.close()  # its row still looks live: the call cannot be made there

    # A real worker takes a call it is told nobody else will (tests/worker_node); this one
    # refuses whatever it is told, so nobody is left in the end.
    with pytest.raises(NoWorkerAvailable):
        await fleet.pool.invoke(SPEC, "inv-busy-1", b"{}")

    # Refused while another was left to try; asked again, as the last, once none was.
    assert [s.head["others_left"] for s in busy.seen] == [True, False]
