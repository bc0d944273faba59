"""A worker's claimer takes the calls it starts warm first."""

from __future__ import annotations

from datetime import UTC, datetime

from sandlot.domain.queue import DueCall
from sandlot.services.async_runner import warm_first
from sandlot.worker.interface import PoolStats, VersionHeld

NOW = datetime.now(UTC)


def _due(call_id: str, function_id: str, version: int) -> DueCall:
    return DueCall(
        id=call_id,
        namespace_id="ns",
        function_id=function_id,
        function_name=function_id,
        version=version,
        created_at=NOW,
        attempt=0,
        aged_from=NOW,
    )


def _stats(*held: VersionHeld) -> PoolStats:
    return PoolStats(
        instances=sum(h.instances for h in held),
        busy=sum(h.busy for h in held),
        memory_mb=0,
        charged_mb=0,
        per_function={},
        versions=held,
    )


def test_warm_versions_come_first_in_queue_order() -> None:
    due = [_due("1", "a", 1), _due("2", "b", 1), _due("3", "a", 2), _due("4", "b", 1)]
    stats = _stats(
        VersionHeld("ns", "b", 1, instances=2, busy=1, function_id="b"),  # one idle
        VersionHeld("ns", "a", 1, instances=1, busy=1, function_id="a"),  # all busy
    )
    assert [d.id for d in warm_first(due, stats)] == ["2", "4", "1", "3"]


def test_a_zygote_counts_as_warm_and_nothing_warm_keeps_the_order() -> None:
    due = [_due("1", "a", 1), _due("2", "b", 1)]
    zygote = _stats(VersionHeld("ns", "b", 1, zygote=True, function_id="b"))
    assert [d.id for d in warm_first(due, zygote)] == ["2", "1"]
    assert [d.id for d in warm_first(due, _stats())] == ["1", "2"]
