"""Instances forked from a sandboxed zygote: own cgroup, own /tmp, OOM and kill semantics."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandlot.config import Settings
from sandlot.domain.states import InvocationState
from sandlot.sandbox.factory import make_starter
from sandlot.sandbox.starter import SandboxStarter
from sandlot.worker.interface import InvokeOutcome, VersionSpec
from sandlot.worker.layout import DEPS_ROOT
from sandlot.worker.pool import RuntimePool
from tests.conftest import SANDBOX_UID_BASE
from tests.worker.helpers import FunctionFactory, process_exists, zygote_pid

HANDLER = """
import os, time

def handler(event, context):
    if event == "hog":
        hog = []
        while True:
            hog.append(bytearray(8 * 1024 * 1024))
    if event == "sleep":
        time.sleep(60)
    if isinstance(event, str):  # a file to wait for: keeps two instances busy at once
        while not os.path.exists(event):
            time.sleep(0.01)
    with open("/tmp/mark", "a") as fh:
        fh.write("x")
    with open("/tmp/mark") as fh:
        return {"tmp": fh.read(), "pid": os.getpid()}
"""


@pytest.fixture
async def pool(sandbox_supported: None, tmp_path: Path) -> AsyncIterator[RuntimePool]:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = RuntimePool(SandboxStarter(tmp_path / "run", uid_base=SANDBOX_UID_BASE), settings)
    try:
        yield runtime
    finally:
        await runtime.close(grace_s=0)


@pytest.fixture
def spec(tmp_path: Path) -> VersionSpec:
    # The code is a copy inside the sandbox, but a dependency directory is a bind of the
    # host's: a flag file made there is how the test lets waiting handlers go.
    flags = tmp_path / "flags"
    flags.mkdir()
    return FunctionFactory(tmp_path / "functions")(
        HANDLER, memory_mb=64, timeout_s=2, site_packages=(flags,)
    )


def flag_of(spec: VersionSpec) -> tuple[Path, str]:
    """A flag file: its host path (to touch) and the handler's view of it (to wait for)."""
    return spec.site_packages[0] / "go", f"{DEPS_ROOT}/go"


def value(outcome: InvokeOutcome) -> dict[str, object]:
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.result_json is not None
    result = json.loads(outcome.result_json)
    assert isinstance(result, dict)
    return result


def host_pids(pool: RuntimePool) -> list[int]:
    return [instance.handle.pid for instance in pool._live]


def memory_cgroup(pid: int) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if ":memory:" in line:
            return line.split(":", 2)[2]
    raise AssertionError(f"no memory cgroup for {pid}")


async def test_each_instance_has_its_own_cgroup_and_tmp(
    pool: RuntimePool, spec: VersionSpec
) -> None:
    flag, seen = flag_of(spec)
    calls = [pool.invoke(spec, f"c{i}", json.dumps(seen).encode()) for i in range(2)]
    running = [asyncio.ensure_future(call) for call in calls]
    while pool.stats().busy < 2:
        await asyncio.sleep(0.01)
    zygote = zygote_pid(pool, spec)
    pids = host_pids(pool)
    groups = {memory_cgroup(pid) for pid in pids}
    assert len(groups) == 2 and memory_cgroup(zygote) not in groups
    assert all(any(pid_name in g for g in groups) for pid_name in ["fid1-v1"])
    flag.touch()
    results = [value(outcome) for outcome in await asyncio.gather(*running)]
    assert [r["tmp"] for r in results] == ["x", "x"]  # two instances, two /tmp
    warm = value(await pool.invoke(spec, "again", b"null"))
    assert warm["tmp"] == "xx"  # /tmp persists on a warm instance


async def test_out_of_memory_kills_only_that_instance(pool: RuntimePool, spec: VersionSpec) -> None:
    value(await pool.invoke(spec, "a", b"null"))
    zygote = zygote_pid(pool, spec)
    flag, seen = flag_of(spec)
    sibling = asyncio.ensure_future(pool.invoke(spec, "s", json.dumps(seen).encode()))
    while pool.stats().busy < 1:
        await asyncio.sleep(0.01)
    hog = await pool.invoke(spec, "hog", b'"hog"')
    assert hog.state is InvocationState.OUT_OF_MEMORY, hog.error
    assert hog.error is not None and hog.error.extra.get("peak_memory_bytes")
    flag.touch()
    value(await sibling)
    assert zygote_pid(pool, spec) == zygote


async def test_timeout_and_a_killed_zygote(pool: RuntimePool, spec: VersionSpec) -> None:
    value(await pool.invoke(spec, "a", b"null"))
    zygote = zygote_pid(pool, spec)
    timed_out = await pool.invoke(spec, "t", b'"sleep"')
    assert timed_out.state is InvocationState.TIMED_OUT
    assert zygote_pid(pool, spec) == zygote
    after = await pool.invoke(spec, "b", b"null")
    assert after.cold_start is True and value(after)["tmp"] == "x"
    os.kill(zygote, signal.SIGKILL)
    while process_exists(zygote):
        await asyncio.sleep(0.01)
    flag, seen = flag_of(spec)
    both = [
        asyncio.ensure_future(pool.invoke(spec, f"c{i}", json.dumps(seen).encode()))
        for i in range(2)
    ]
    while pool.stats().busy < 2:
        await asyncio.sleep(0.01)
    flag.touch()
    for outcome in await asyncio.gather(*both):
        value(outcome)
    assert zygote_pid(pool, spec) != zygote


async def test_close_leaves_no_cgroup(
    sandbox_supported: None, tmp_path: Path, spec: VersionSpec
) -> None:
    starter = SandboxStarter(tmp_path / "run2", uid_base=SANDBOX_UID_BASE)
    runtime = RuntimePool(starter, Settings(data_dir=tmp_path / "data2"))
    value(await runtime.invoke(spec, "a", b"null"))
    zygote = zygote_pid(runtime, spec)
    bases = list(starter._cgroups.bases.values()) if starter._cgroups else []
    await runtime.close(grace_s=0)
    assert not process_exists(zygote)
    assert not any(base.exists() for base in bases)


async def test_versions_run_as_host_uids_from_the_operators_base(
    sandbox_supported: None, tmp_path: Path, spec: VersionSpec
) -> None:
    base = SANDBOX_UID_BASE + 4096  # root only; still inside this run's own range
    settings = Settings(data_dir=tmp_path / "data", sandbox_uid_base=base)
    runtime = RuntimePool(make_starter(settings), settings)
    try:
        value(await runtime.invoke(spec, "a", b"null"))
        status = Path(f"/proc/{zygote_pid(runtime, spec)}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uids.split()[1:] == [str(base)] * 4
    finally:
        await runtime.close(grace_s=0)


async def test_a_version_that_fails_to_import_gives_its_uid_back(
    sandbox_supported: None, tmp_path: Path
) -> None:
    """Each version's sandbox has a host uid of its own; with room for two, a third and a
    fourth failed import check (and then a good version) still find one free."""
    starter = SandboxStarter(tmp_path / "run", uid_base=SANDBOX_UID_BASE, uid_count=2)
    runtime = RuntimePool(starter, Settings(data_dir=tmp_path / "data"))
    functions = FunctionFactory(tmp_path / "functions")
    try:
        for _ in range(4):
            prepared = await runtime.prepare(functions("raise RuntimeError('broken')\n"))
            assert prepared.error is not None, "the import should fail"
            assert prepared.error.exception_type == "RuntimeError", prepared.error
        good = functions(HANDLER)
        assert (await runtime.prepare(good)).error is None
        value(await runtime.invoke(good, "a", b"null"))
    finally:
        await runtime.close(grace_s=0)
