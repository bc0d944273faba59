"""Spare instances (forked ahead after a cold start) and `reuse_instances=False`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from sandlot.config import Settings
from sandlot.sandbox.plain import PlainStarter
from sandlot.worker.capacity import Capacity
from sandlot.worker.instance import Instance
from sandlot.worker.interface import VersionSpec
from sandlot.worker.pool import RuntimePool
from sandlot.worker.spares import SpareInstances
from sandlot.worker.zygote_launcher import ZygoteLauncher
from tests.worker.helpers import FunctionFactory, instance_processes, process_exists, zygote_pid
from tests.worker.test_zygote import STATEFUL, result


@pytest.fixture
async def one_shot(tmp_path: Path) -> AsyncIterator[RuntimePool]:
    runtime = RuntimePool(
        PlainStarter(), Settings(data_dir=tmp_path / "data", reuse_instances=False)
    )
    try:
        yield runtime
    finally:
        await runtime.close(grace_s=0)


def launcher(pool: RuntimePool) -> ZygoteLauncher:
    assert isinstance(pool._launcher, ZygoteLauncher)
    return pool._launcher


async def spare_pid(pool: RuntimePool, spec: VersionSpec) -> int:
    """The spare's host pid, once it is ready."""
    task = launcher(pool)._spares._spares[spec.key][0].task
    instance = await asyncio.shield(task)
    return instance.handle.pid


async def test_every_call_is_cold_and_takes_the_spare_forked_after_the_last(
    one_shot: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(STATEFUL)
    first = await one_shot.invoke(spec, "a", b"null")
    zygote = zygote_pid(one_shot, spec)
    ready = await spare_pid(one_shot, spec)
    second = await one_shot.invoke(spec, "b", b"null")
    assert first.cold_start and second.cold_start
    assert result(first)["calls"] == result(second)["calls"] == 1  # never reused
    assert result(second)["pid"] == ready != result(first)["pid"]
    assert result(second)["ppid"] == zygote == zygote_pid(one_shot, spec)
    assert second.timings.fork_ms == 0.0  # forked before the call
    assert await spare_pid(one_shot, spec) not in (ready, result(first)["pid"])


async def test_a_spare_stops_with_its_zygote_and_close_leaves_nothing(
    one_shot: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(STATEFUL)
    result(await one_shot.invoke(spec, "a", b"null"))
    spare = await spare_pid(one_shot, spec)
    await one_shot.retire_version(spec.function_id, spec.version)
    for _ in range(500):
        if not process_exists(spare):
            break
        await asyncio.sleep(0.01)
    assert not process_exists(spare)
    other = function(STATEFUL)
    result(await one_shot.invoke(other, "b", b"null"))
    await spare_pid(one_shot, other)
    await one_shot.close(grace_s=0)
    assert instance_processes() == set()


async def test_no_spare_when_turned_off(tmp_path: Path, function: FunctionFactory) -> None:
    settings = Settings(data_dir=tmp_path / "data", spare_instances=0)
    runtime = RuntimePool(PlainStarter(), settings)
    try:
        spec = function(STATEFUL)
        result(await runtime.invoke(spec, "a", b"null"))
        assert spec.key not in launcher(runtime)._spares
        again = await runtime.invoke(spec, "b", b"null")
        assert not again.cold_start and result(again)["calls"] == 2  # reused as before
    finally:
        await runtime.close(grace_s=0)


class _Made:
    """Stands in for a forked instance: the depth policy only asks whether it is alive."""

    alive = True

    async def close(self) -> None:
        self.alive = False


async def test_a_version_whose_starts_wait_for_their_spare_keeps_one_more(
    function: FunctionFactory,
) -> None:
    gate = asyncio.Event()
    made: list[_Made] = []

    async def make(spec: VersionSpec) -> Instance:
        await gate.wait()  # a spare takes as long as the test says
        made.append(_Made())
        return cast(Instance, made[-1])

    capacity = Capacity(max_instances=10, max_memory_mb=10_000)
    spares = SpareInstances(make, capacity, depth=2)
    spec = function(STATEFUL)
    spares.refill(spec)
    assert len(spares._spares[spec.key]) == 1 and capacity.memory_mb == spec.memory_mb
    taking = asyncio.ensure_future(spares.take(spec.key))  # finds it still being made
    await asyncio.sleep(0)
    gate.set()
    assert await taking is cast(Instance, made[0])
    assert capacity.memory_mb == 0  # the charge passed to the call that took it
    spares.refill(spec)
    assert len(spares._spares[spec.key]) == 2  # one more, and no further than the depth
    await asyncio.sleep(0.01)
    assert await spares.take(spec.key) is cast(Instance, made[1])  # ready: the depth stays
    spares.refill(spec)
    assert len(spares._spares[spec.key]) == 2
    assert spares.evict_oldest(keep=None) and len(spares._spares[spec.key]) == 1
    await spares.close()
    assert capacity.memory_mb == 0
    assert [m.alive for m in made] == [True, True, False, False]  # the held ones stopped
