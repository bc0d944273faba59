"""Concurrency limits and queueing, keep-alive, stopping functions, closing the pool."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from sandlot.config import Settings
from sandlot.domain.errors import ServiceUnavailable, TooManyRequests
from sandlot.domain.states import InvocationState
from sandlot.sandbox.plain import PlainStarter
from sandlot.worker.interface import InvokeOutcome
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory, instance_processes, process_exists

# Blocks until the file named by the event exists, so tests need no timing.
WAIT_FOR_FILE = """
import os, time

def handler(event, context):
    if isinstance(event, str):
        while not os.path.exists(event):
            time.sleep(0.01)
    return os.getpid()
"""


def pid(outcome: InvokeOutcome) -> int:
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.result_json is not None
    value = json.loads(outcome.result_json)
    assert isinstance(value, int)
    return value


async def test_calls_over_the_limit_queue_then_reuse_the_instance(
    pool: RuntimePool, function: FunctionFactory, tmp_path: Path
) -> None:
    spec = function(WAIT_FOR_FILE, max_concurrency=1)
    flag = tmp_path / "go"
    first = asyncio.create_task(pool.invoke(spec, "a", json.dumps(str(flag)).encode()))
    second = asyncio.create_task(pool.invoke(spec, "b", b"null"))
    await asyncio.sleep(0.3)
    assert not second.done()  # queued behind the first
    flag.touch()
    one, two = await first, await second
    assert pid(one) == pid(two)
    assert two.cold_start is False


async def test_queue_wait_is_bounded(
    settings: Settings, function: FunctionFactory, tmp_path: Path
) -> None:
    runtime = RuntimePool(PlainStarter(), settings.model_copy(update={"queue_timeout_s": 0.05}))
    spec = function(WAIT_FOR_FILE, max_concurrency=1)
    flag = tmp_path / "go"
    try:
        busy = asyncio.create_task(runtime.invoke(spec, "a", json.dumps(str(flag)).encode()))
        while runtime.stats().busy == 0:
            await asyncio.sleep(0.01)
        with pytest.raises(TooManyRequests) as raised:
            await runtime.invoke(spec, "b", b"null")
        assert raised.value.retry_after_s >= 1
        flag.touch()
        pid(await busy)
    finally:
        await runtime.close(grace_s=5)


async def test_global_instance_cap_evicts_idle_instances(
    settings: Settings, function: FunctionFactory
) -> None:
    runtime = RuntimePool(PlainStarter(), settings.model_copy(update={"max_instances": 1}))
    first, second = function(WAIT_FOR_FILE), function(WAIT_FOR_FILE)
    try:
        old = pid(await runtime.invoke(first, "a", b"null"))
        pid(await runtime.invoke(second, "b", b"null"))
        assert runtime.stats().per_function == {second.function_name: 1}
        await runtime.reaper.run_once()  # lets the evicted instance's cleanup finish
        assert not process_exists(old)
    finally:
        await runtime.close(grace_s=0)


async def test_keep_alive_reaper_stops_idle_instances(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    kept = function(WAIT_FOR_FILE)
    expiring = function(WAIT_FOR_FILE, keep_alive_s=0.0)
    kept_pid = pid(await pool.invoke(kept, "a", b"null"))
    expiring_pid = pid(await pool.invoke(expiring, "b", b"null"))
    assert await pool.reaper.run_once() == 1
    assert pool.stats().per_function == {kept.function_name: 1}
    assert not process_exists(expiring_pid)
    assert process_exists(kept_pid)
    again = await pool.invoke(expiring, "c", b"null")
    assert again.cold_start is True


async def test_min_warm_instances_outlive_keep_alive(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(WAIT_FOR_FILE, keep_alive_s=0.0, min_warm=1)
    pid(await pool.invoke(spec, "a", b"null"))
    assert await pool.reaper.run_once() == 0
    assert pool.stats().instances == 1


async def test_stop_function_kills_its_instances(
    pool: RuntimePool, function: FunctionFactory, tmp_path: Path
) -> None:
    spec = function(WAIT_FOR_FILE, max_concurrency=2)
    other = function(WAIT_FOR_FILE)
    idle_pid = pid(await pool.invoke(spec, "a", b"null"))
    pid(await pool.invoke(other, "b", b"null"))
    busy = asyncio.create_task(pool.invoke(spec, "c", json.dumps(str(tmp_path / "never")).encode()))
    while pool.stats().busy == 0:
        await asyncio.sleep(0.01)
    await pool.stop_function(spec.function_id)
    outcome = await busy
    assert outcome.error is not None and outcome.error.kind == "FunctionCrashed"
    assert "deleted" in outcome.error.message
    assert not process_exists(idle_pid)
    assert pool.stats().per_function == {other.function_name: 1}


async def test_retired_version_stops_once_idle(
    pool: RuntimePool, function: FunctionFactory, tmp_path: Path
) -> None:
    v1 = function(WAIT_FOR_FILE)
    v2 = dataclasses.replace(v1, version=2)
    flag = tmp_path / "go"
    busy = asyncio.create_task(pool.invoke(v1, "a", json.dumps(str(flag)).encode()))
    while pool.stats().busy == 0:
        await asyncio.sleep(0.01)
    pid(await pool.invoke(v2, "b", b"null"))
    await pool.retire_version(v1.function_id, 1)
    assert pool.stats().instances == 2  # the busy one finishes its invocation
    flag.touch()
    v1_pid = pid(await busy)
    await pool.reaper.run_once()
    assert pool.stats().instances == 1
    assert not process_exists(v1_pid)


async def test_close_lets_in_flight_calls_finish_and_leaves_no_process(
    settings: Settings, function: FunctionFactory, tmp_path: Path
) -> None:
    runtime = RuntimePool(PlainStarter(), settings)
    await runtime.start()
    spec = function(WAIT_FOR_FILE)
    other = function(WAIT_FOR_FILE)
    flag = tmp_path / "go"
    pids = {pid(await runtime.invoke(other, "a", b"null"))}
    busy = asyncio.create_task(runtime.invoke(spec, "b", json.dumps(str(flag)).encode()))
    while runtime.stats().busy == 0:
        await asyncio.sleep(0.01)
    closing = asyncio.create_task(runtime.close(grace_s=30))
    await asyncio.sleep(0.1)
    with pytest.raises(ServiceUnavailable):
        await runtime.invoke(other, "c", b"null")
    flag.touch()
    pids.add(pid(await busy))
    await closing
    assert runtime.stats().instances == 0
    assert not any(process_exists(p) for p in pids)
    assert instance_processes() == set()


async def test_close_kills_calls_that_outlast_the_grace(
    settings: Settings, function: FunctionFactory, tmp_path: Path
) -> None:
    runtime = RuntimePool(PlainStarter(), settings)
    spec = function(
        """
        import subprocess, time

        def handler(event, context):
            subprocess.Popen(["sleep", "300"])  # a child in the instance's process group
            time.sleep(300)
        """
    )
    busy = asyncio.create_task(runtime.invoke(spec, "a", b"null"))
    while runtime.stats().busy == 0:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    await runtime.close(grace_s=0.1)
    outcome = await busy
    # Not the function's failure: the call was cancelled by the shutdown.
    assert outcome.state is InvocationState.CANCELLED
    assert outcome.error is not None and outcome.error.kind == "ServiceUnavailable"
    assert "shut down" in outcome.error.message
    assert instance_processes() == set()
    assert not _sleepers_below_us()


def _sleepers_below_us() -> list[int]:
    from tests.worker.helpers import descendants

    found = []
    for child in descendants(__import__("os").getpid()):
        try:
            if Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"sleep"):
                found.append(child)
        except OSError:
            continue
    return found


async def test_cancelled_call_discards_its_instance(
    pool: RuntimePool, function: FunctionFactory, tmp_path: Path
) -> None:
    spec = function(WAIT_FOR_FILE)
    old = pid(await pool.invoke(spec, "a", b"null"))
    busy = asyncio.create_task(pool.invoke(spec, "b", json.dumps(str(tmp_path / "never")).encode()))
    while pool.stats().busy == 0:
        await asyncio.sleep(0.01)
    busy.cancel()
    with pytest.raises(asyncio.CancelledError):
        await busy
    after = await pool.invoke(spec, "c", b"null")
    assert after.cold_start is True
    assert pid(after) != old
    await pool.reaper.run_once()
    assert not process_exists(old)
