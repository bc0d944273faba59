"""Which workers a call tries, and in which order (domain.cluster.choose_workers)."""

from __future__ import annotations

from datetime import UTC, datetime

from sandlot.domain.cluster import WarmVersion, WorkerInfo, choose_workers, rendezvous_order

KEY = ("fn-1", 3)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def worker(
    wid: str,
    *,
    idle: int = 0,
    ready: bool = False,
    free_mb: int = 1024,
    instances: int = 0,
    max_instances: int = 8,
    busy: int | None = None,
    cpus: float = 0.0,
) -> WorkerInfo:
    warm = (WarmVersion(KEY[0], KEY[1], idle=idle, instances=idle),) if idle else ()
    return WorkerInfo(
        id=wid,
        url=f"http://{wid}",
        heartbeat_at=NOW,
        free_mb=free_mb,
        max_memory_mb=2048,
        instances=instances,
        busy=instances if busy is None else busy,
        max_instances=max_instances,
        cpus=cpus,
        warm=warm,
        ready=frozenset({KEY}) if ready else frozenset(),
    )


def ids(workers: list[WorkerInfo]) -> list[str]:
    return [w.id for w in workers]


def test_without_state_the_order_is_the_rendezvous_order_cut_at_three() -> None:
    fleet = [worker(f"w{i}") for i in range(6)]
    chosen = choose_workers(KEY, fleet, 128)
    assert ids(chosen) == ids(rendezvous_order(KEY, fleet))[:3]
    assert ids(choose_workers(KEY, list(reversed(fleet)), 128)) == ids(chosen)


def test_warm_idle_first_then_ready_with_room_then_room() -> None:
    home, second, third, fourth = ids(rendezvous_order(KEY, [worker(f"w{i}") for i in range(4)]))
    fleet = [
        worker(home),
        worker(second, ready=True),
        worker(third),
        worker(fourth, idle=1),
    ]
    assert ids(choose_workers(KEY, fleet, 128, tries=4)) == [fourth, second, home, third]


def test_a_saturated_home_worker_falls_behind_those_with_an_idle_instance_or_room() -> None:
    order = ids(rendezvous_order(KEY, [worker(f"w{i}") for i in range(3)]))
    home, second, third = order
    fleet = [
        worker(home, ready=True, free_mb=0),  # busy with this version: no idle, no memory
        worker(second, idle=1),
        worker(third, ready=True),
    ]
    assert ids(choose_workers(KEY, fleet, 128)) == [second, third]


def test_no_room_means_memory_and_instance_count() -> None:
    fleet = [
        worker("a", free_mb=100),
        worker("b", instances=8, max_instances=8),
        worker("c", free_mb=128),
    ]
    assert ids(choose_workers(KEY, fleet, 128)) == ["c"]


def test_an_idle_instance_wins_even_without_room() -> None:
    fleet = [worker("a", idle=2, free_mb=0, instances=8, max_instances=8)]
    assert ids(choose_workers(KEY, fleet, 512)) == ["a"]


def test_nobody_to_try() -> None:
    assert choose_workers(KEY, [], 128) == []
    assert choose_workers(KEY, [worker("a", free_mb=0)], 128) == []


def test_idle_instances_of_other_versions_are_room_last() -> None:
    fleet = [
        worker("full", free_mb=0, instances=8),  # all busy: left out
        worker("evicts", free_mb=0, instances=8, busy=5, ready=True),
        worker("evicts-unready", free_mb=0, instances=8, busy=7),
        worker("roomy"),
    ]
    assert ids(choose_workers(KEY, fleet, 128, tries=4)) == ["roomy", "evicts", "evicts-unready"]


def test_a_ready_worker_with_a_cpu_to_spare_comes_before_a_cpu_bound_home_worker() -> None:
    names = ["w1", "w2", "w3"]
    home, second, third = ids(rendezvous_order(KEY, [worker(n) for n in names]))
    busy_home = worker(home, ready=True, instances=2, busy=2, cpus=2.0)
    free_second = worker(second, ready=True, instances=1, busy=1, cpus=2.0)
    cold_third = worker(third, cpus=2.0)
    order = ids(choose_workers(KEY, [busy_home, free_second, cold_third], memory_mb=128))
    # Busy CPUs still beat a prepare (no call waits on one), and a worker that does not
    # say its CPUs is never held back.
    assert order == [second, home, third]
    # When every ready worker's CPUs are busy, the least loaded goes first.
    busier_second = worker(second, ready=True, instances=3, busy=3, cpus=2.0)
    order = ids(choose_workers(KEY, [busy_home, busier_second], memory_mb=128))
    assert order == [home, second]
    busiest_home = worker(home, ready=True, instances=4, busy=4, cpus=2.0)
    order = ids(choose_workers(KEY, [busiest_home, busier_second], memory_mb=128))
    assert order == [second, home]
    unsaid = worker(home, ready=True, instances=2, busy=2)
    assert ids(choose_workers(KEY, [unsaid, free_second], memory_mb=128))[0] == home
