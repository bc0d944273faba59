"""The worker's memory budget with zygotes and spares, and eviction under memory pressure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sandlot.config import Settings
from sandlot.domain.errors import TooManyRequests
from sandlot.sandbox.plain import PlainStarter
from sandlot.worker.capacity import available_mb
from sandlot.worker.interface import VersionSpec
from sandlot.worker.pool import RuntimePool
from sandlot.worker.zygote_launcher import ZygoteLauncher
from tests.worker.helpers import FunctionFactory, instance_processes, process_exists, zygote_pid
from tests.worker.test_zygote import STATEFUL, result

SIZE_MB = 120


def launcher(pool: RuntimePool) -> ZygoteLauncher:
    assert isinstance(pool._launcher, ZygoteLauncher)
    return pool._launcher


def has_zygote(pool: RuntimePool, spec: VersionSpec) -> bool:
    zygote = launcher(pool).zygote(spec.key)
    return zygote is not None and zygote.alive


def zygote_charge(pool: RuntimePool, spec: VersionSpec) -> int:
    zygote = launcher(pool).zygote(spec.key)
    assert zygote is not None
    return zygote.charge_mb


async def one_shot_stopped(pool: RuntimePool, timeout_s: float = 10.0) -> None:
    """Wait until no instance is busy: with reuse_instances=False the pool stops an instance
    once its answer is out (on the loop's next turn), not before `invoke` returns."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while pool.stats().busy:
        assert asyncio.get_running_loop().time() < deadline, pool.stats()
        await asyncio.sleep(0.01)


async def pool_with(tmp_path: Path, **settings: object) -> RuntimePool:
    base = Settings(data_dir=tmp_path / "data")
    return RuntimePool(PlainStarter(), base.model_copy(update=settings))


async def test_a_zygote_is_charged_its_imports_and_refunded_when_retired(
    tmp_path: Path, function: FunctionFactory
) -> None:
    runtime = await pool_with(tmp_path, spare_instances=0)
    spec = function(STATEFUL, memory_mb=SIZE_MB)
    try:
        result(await runtime.invoke(spec, "a", b"null"))
        charge = zygote_charge(runtime, spec)
        assert 1 <= charge < SIZE_MB  # a bare interpreter's peak, not the version's size
        assert runtime.stats().charged_mb == SIZE_MB + charge
        await runtime.retire_version(spec.function_id, spec.version)
        assert runtime.stats().charged_mb == 0
    finally:
        await runtime.close(grace_s=0)


async def test_a_start_without_room_evicts_the_least_recently_used_unused_zygote(
    tmp_path: Path, function: FunctionFactory
) -> None:
    # Room for one instance and nothing else: every zygote left behind must go for the next.
    runtime = await pool_with(
        tmp_path, max_memory_mb=SIZE_MB, reuse_instances=False, spare_instances=0
    )
    first, second = function(STATEFUL, memory_mb=SIZE_MB), function(STATEFUL, memory_mb=SIZE_MB)
    try:
        result(await runtime.invoke(first, "a", b"null"))
        old_zygote = zygote_pid(runtime, first)
        result(await runtime.invoke(second, "b", b"null"))
        await asyncio.sleep(0)  # a one-shot instance stops once its answer is out
        assert not has_zygote(runtime, first)
        assert has_zygote(runtime, second)
        assert runtime.stats().charged_mb == zygote_charge(runtime, second)
        await runtime.reaper.run_once()
        assert not process_exists(old_zygote)
        again = await runtime.invoke(first, "c", b"null")  # a first start again
        assert again.timings.zygote_ms > 0
        assert not has_zygote(runtime, second)
    finally:
        await runtime.close(grace_s=0)


async def test_the_zygote_of_a_version_with_a_busy_instance_is_kept(
    tmp_path: Path, function: FunctionFactory
) -> None:
    runtime = await pool_with(
        tmp_path, max_memory_mb=SIZE_MB, spare_instances=0, queue_timeout_s=0.2
    )
    busy_spec, other = function(STATEFUL, memory_mb=SIZE_MB), function(STATEFUL, memory_mb=SIZE_MB)
    flag = tmp_path / "go"
    try:
        busy = asyncio.create_task(runtime.invoke(busy_spec, "a", json.dumps(str(flag)).encode()))
        while runtime.stats().busy == 0:
            await asyncio.sleep(0.01)
        with pytest.raises(TooManyRequests):
            await runtime.invoke(other, "b", b"null")
        assert has_zygote(runtime, busy_spec)
        flag.touch()
        result(await busy)
    finally:
        await runtime.close(grace_s=0)


async def test_spares_are_charged_and_evicted_before_zygotes(
    tmp_path: Path, function: FunctionFactory
) -> None:
    # Room for the first function's instance and its spare, or for the second's instance
    # (twice the size) but not for that and the spare.
    budget = 2 * SIZE_MB + 60
    runtime = await pool_with(tmp_path, max_memory_mb=budget, reuse_instances=False)
    first = function(STATEFUL, memory_mb=SIZE_MB)
    second = function(STATEFUL, memory_mb=2 * SIZE_MB)
    try:
        result(await runtime.invoke(first, "a", b"null"))
        await asyncio.shield(launcher(runtime)._spares._spares[first.key][0].task)
        # Under load the spare can be ready before the call's answer: its one-shot instance
        # is then still charged until the pool stops it, just after the answer is out.
        await one_shot_stopped(runtime)
        assert runtime.stats().charged_mb == SIZE_MB + zygote_charge(runtime, first)
        result(await runtime.invoke(second, "b", b"null"))
        assert first.key not in launcher(runtime)._spares  # evicted for the second's instance
        assert has_zygote(runtime, first) and has_zygote(runtime, second)
        assert runtime.stats().charged_mb <= budget  # the instance may still be charged
        await one_shot_stopped(runtime)
        zygotes = zygote_charge(runtime, first) + zygote_charge(runtime, second)
        assert runtime.stats().charged_mb == zygotes  # no room was left for a second's spare
    finally:
        await runtime.close(grace_s=0)
    assert instance_processes() == set()


async def test_host_memory_pressure_evicts_all_but_min_warm(
    tmp_path: Path, function: FunctionFactory
) -> None:
    # A floor above any host's memory: every reaper round is under pressure.
    runtime = await pool_with(tmp_path, min_available_memory_mb=1 << 40, spare_instances=0)
    kept, evicted = function(STATEFUL, min_warm=1), function(STATEFUL)
    try:
        assert await runtime.ensure_warm(kept) == 1
        result(await runtime.invoke(evicted, "a", b"null"))
        assert runtime.stats().instances == 2
        assert await runtime.reaper.run_once() == 2  # the idle instance, then its zygote
        assert runtime.stats().per_function == {kept.function_name: 1}
        assert has_zygote(runtime, kept) and not has_zygote(runtime, evicted)
        again = await runtime.invoke(kept, "b", b"null")
        assert not again.cold_start
    finally:
        await runtime.close(grace_s=0)


def test_available_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:    2097152 kB\n")
    assert available_mb(meminfo) == 2048
    meminfo.write_text("MemTotal:       24000000 kB\n")
    assert available_mb(meminfo) is None
    assert available_mb(tmp_path / "missing") is None
    real = available_mb()
    assert real is not None and real > 0
