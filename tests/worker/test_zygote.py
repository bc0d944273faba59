"""Instances forked from a per-version zygote (plain starter): state, isolation, lifetimes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from sandlot.config import Settings
from sandlot.domain.states import InvocationState
from sandlot.sandbox.plain import PlainStarter
from sandlot.worker.interface import InvokeOutcome, VersionSpec
from sandlot.worker.launcher import ProcessLauncher
from sandlot.worker.pool import RuntimePool
from sandlot.worker.zygote_launcher import ZygoteLauncher
from tests.worker.helpers import (
    FunctionFactory,
    instance_processes,
    parent_of,
    process_exists,
    zygote_pid,
)

STATEFUL = """
import json, os, random, sys, time

calls = 0

def handler(event, context):
    global calls
    calls += 1
    if isinstance(event, str):  # a file to wait for: keeps two instances busy at once
        while not os.path.exists(event):
            time.sleep(0.01)
    if event == "sleep":
        time.sleep(60)
    return {"pid": os.getpid(), "ppid": os.getppid(), "calls": calls, "random": random.random()}
"""


def result(outcome: InvokeOutcome) -> dict[str, object]:
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.result_json is not None
    value = json.loads(outcome.result_json)
    assert isinstance(value, dict)
    return value


async def two_at_once(pool: RuntimePool, spec: VersionSpec, flag: Path) -> list[dict[str, object]]:
    calls = [
        asyncio.create_task(pool.invoke(spec, f"c{i}", json.dumps(str(flag)).encode()))
        for i in range(2)
    ]
    while pool.stats().busy < 2:
        await asyncio.sleep(0.01)
    flag.touch()
    return [result(outcome) for outcome in await asyncio.gather(*calls)]


async def test_the_zygote_launcher_is_the_default(pool: RuntimePool) -> None:
    assert isinstance(pool._launcher, ZygoteLauncher)


async def test_sync_and_async_handlers_run_forked_from_the_zygote(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    sync = function(STATEFUL)
    first = result(await pool.invoke(sync, "a", b"null"))
    assert first["ppid"] == zygote_pid(pool, sync)
    warm = await pool.invoke(sync, "b", b"null")
    assert warm.cold_start is False
    assert result(warm)["calls"] == 2 and result(warm)["pid"] == first["pid"]  # globals persist
    asynchronous = function(
        """
        import asyncio, os

        async def handler(event, context):
            await asyncio.sleep(0)
            return {"ppid": os.getppid()}
        """
    )
    assert result(await pool.invoke(asynchronous, "c", b"null"))["ppid"] == zygote_pid(
        pool, asynchronous
    )


async def test_concurrent_instances_have_their_own_globals_and_random_state(
    pool: RuntimePool, function: FunctionFactory, tmp_path: Path
) -> None:
    spec = function(STATEFUL)
    one, two = await two_at_once(pool, spec, tmp_path / "go")
    assert one["pid"] != two["pid"]
    assert one["ppid"] == two["ppid"] == zygote_pid(pool, spec)
    assert one["calls"] == two["calls"] == 1
    assert one["random"] != two["random"]  # `random` was imported by the zygote, then reseeded


async def test_timeout_kills_only_the_instance_and_the_zygote_forks_the_next(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(STATEFUL, timeout_s=1)
    old = result(await pool.invoke(spec, "a", b"null"))
    zygote = zygote_pid(pool, spec)
    timed_out = await pool.invoke(spec, "b", b'"sleep"')
    assert timed_out.state is InvocationState.TIMED_OUT
    new = await pool.invoke(spec, "c", b"null")
    assert new.cold_start is True
    assert result(new)["pid"] != old["pid"]
    assert result(new)["ppid"] == zygote == zygote_pid(pool, spec)


async def test_a_killed_zygote_is_replaced_and_its_instance_lives_on(
    pool: RuntimePool, function: FunctionFactory, tmp_path: Path
) -> None:
    spec = function(STATEFUL)
    warm = result(await pool.invoke(spec, "a", b"null"))
    old_zygote = zygote_pid(pool, spec)
    os.kill(old_zygote, signal.SIGKILL)
    while process_exists(old_zygote) and parent_of(old_zygote) == os.getpid():
        await asyncio.sleep(0.01)
    results = await two_at_once(pool, spec, tmp_path / "go")
    assert warm["pid"] in {r["pid"] for r in results}  # the idle instance survived
    new_zygote = zygote_pid(pool, spec)
    assert new_zygote != old_zygote
    assert new_zygote in {r["ppid"] for r in results}


async def test_retire_and_delete_stop_the_zygote(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(STATEFUL)
    other = function(STATEFUL)
    result(await pool.invoke(spec, "a", b"null"))
    result(await pool.invoke(other, "b", b"null"))
    zygotes = [zygote_pid(pool, spec), zygote_pid(pool, other)]
    await pool.retire_version(spec.function_id, spec.version)
    await pool.stop_function(other.function_id)
    for _ in range(500):
        if not any(process_exists(pid) for pid in zygotes):
            break
        await asyncio.sleep(0.01)
    assert not any(process_exists(pid) for pid in zygotes)


async def test_close_leaves_no_zygote_and_no_instance(
    settings: Settings, function: FunctionFactory
) -> None:
    runtime = RuntimePool(PlainStarter(), settings)
    spec = function(STATEFUL)
    result(await runtime.invoke(spec, "a", b"null"))
    zygote = zygote_pid(runtime, spec)
    await runtime.close(grace_s=0)
    assert not process_exists(zygote)
    assert instance_processes() == set()


async def test_processes_per_instance_when_zygotes_are_off(
    tmp_path: Path, function: FunctionFactory
) -> None:
    settings = Settings(data_dir=tmp_path / "data", zygotes=False)
    runtime = RuntimePool(PlainStarter(), settings)
    try:
        assert isinstance(runtime._launcher, ProcessLauncher)
        value = result(await runtime.invoke(function(STATEFUL), "a", b"null"))
        assert value["ppid"] == os.getpid()
    finally:
        await runtime.close(grace_s=0)
