"""Building, sharing, rebuilding and pruning environments; offline, with real uv runs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sandlot.envs import (
    BuildCause,
    BuildOptions,
    EnvironmentBuildFailed,
    EnvironmentStore,
    Lock,
    Target,
    find_requirements,
)

from .helpers import import_versions, lock_for
from .wheelkit import write_sdist, write_wheel


def leftovers(store: EnvironmentStore) -> list[str]:
    """Anything a build left behind outside envs/."""
    return sorted(p.name for sub in ("tmp", "trash") for p in (store.root / sub).iterdir())


async def test_build_and_import_with_an_isolated_interpreter(
    store: EnvironmentStore, target: Target
) -> None:
    lines: list[str] = []
    env = await store.ensure(await lock_for(store, "alpha"), lines.append)
    assert env.built
    assert env.path.name == "site-packages"
    assert env.size_bytes > 0
    assert import_versions(target, env.path, "alpha", "beta") == {"alpha": "1.0", "beta": "1.5"}
    assert any("+ alpha==1.0" in line for line in lines)  # uv's own output, streamed
    assert lines[-1].endswith(f"ready ({env.size_bytes} bytes)")
    assert not (env.path / ".lock").exists()
    assert leftovers(store) == []


async def test_two_functions_with_the_same_requirements_share_one_environment(
    store: EnvironmentStore, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "requirements.txt").write_text("Alpha\n")
    (two / "main.py").write_text("# /// script\n# dependencies = ['alpha']\n# ///\n")
    found_one, found_two = find_requirements(one, "main"), find_requirements(two, "main")
    assert found_one is not None and found_two is not None
    first = await store.ensure(await store.resolve(found_one))
    log: list[str] = []
    second = await store.ensure(await store.resolve(found_two), log.append)
    assert (first.built, second.built) == (True, False)
    assert (first.key, first.path) == (second.key, second.path)
    assert log == [f"environment {first.key[:12]}: already built, reusing it"]
    assert len(await store.list_environments()) == 1


async def test_concurrent_ensures_build_once(store: EnvironmentStore, target: Target) -> None:
    lock = await lock_for(store, "alpha", "delta")
    envs = await asyncio.gather(*(store.ensure(lock) for _ in range(6)))
    assert sum(env.built for env in envs) == 1
    assert len({env.path for env in envs}) == 1
    assert import_versions(target, envs[0].path, "alpha", "delta")["delta"] == "1.0"
    assert leftovers(store) == []


_ENSURE_IN_ANOTHER_PROCESS = """
import asyncio, json, sys
from pathlib import Path
from sandlot.envs import BuildOptions, EnvironmentStore, Lock, detect_target

async def main() -> None:
    root, links, lock_file = sys.argv[1:4]
    store = EnvironmentStore(Path(root), BuildOptions(find_links=(links,)), await detect_target())
    env = await store.ensure(Lock.from_text(Path(lock_file).read_text()))
    print(json.dumps({"built": env.built, "path": str(env.path)}))

asyncio.run(main())
"""


async def test_two_processes_build_once(
    store: EnvironmentStore, links: Path, tmp_path: Path, target: Target
) -> None:
    # A slow sdist keeps the first build going while the second process arrives.
    write_sdist(links, "slow", "1.0", sleep_s=1.0)
    lock = await lock_for(store, "slow", "alpha")
    (tmp_path / "lock.txt").write_text(lock.text)
    argv = [str(store.root), str(links), str(tmp_path / "lock.txt")]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _ENSURE_IN_ANOTHER_PROCESS, *argv, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [json.loads((await proc.communicate())[0]) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert sorted(out["built"] for out in outputs) == [False, True]
    assert outputs[0]["path"] == outputs[1]["path"]
    site = Path(outputs[0]["path"])
    assert import_versions(target, site, "slow", "alpha") == {"slow": "1.0", "alpha": "1.0"}
    assert leftovers(store) == []


async def test_rebuild_from_a_stored_lock_installs_exactly_that_lock(
    store: EnvironmentStore, links: Path, target: Target
) -> None:
    stored = (await lock_for(store, "alpha")).text
    first = await store.ensure(Lock.from_text(stored))
    assert await store.prune(set(), grace_s=0) == [first.key]
    assert not first.path.exists()
    # A newer beta that alpha accepts: resolving again would pick it, a rebuild must not.
    write_wheel(str(links), "beta", "1.9")
    assert (await lock_for(store, "alpha")).packages[1].version == "1.9"
    again = await store.ensure(Lock.from_text(stored))
    assert again.built
    assert again.key == first.key
    assert import_versions(target, again.path, "beta") == {"beta": "1.5"}


async def test_prune_keeps_environments_in_use_or_recently_used(store: EnvironmentStore) -> None:
    used = await store.ensure(await lock_for(store, "alpha"))
    idle = await store.ensure(await lock_for(store, "delta"))
    assert await store.prune({used.key}, grace_s=3600) == []  # idle, but used recently
    long_ago = time.time() - 7200
    for env in (used, idle):
        os.utime(env.path.parent / "last-used", (long_ago, long_ago))
    assert await store.prune({used.key}, grace_s=3600) == [idle.key]
    assert [env.key for env in await store.list_environments()] == [used.key]
    assert await store.get(idle.key) is None
    assert (await store.ensure(await lock_for(store, "delta"))).built  # rebuilt on demand


async def test_prune_removes_builds_abandoned_by_a_crash(store: EnvironmentStore) -> None:
    lock = await lock_for(store, "delta")
    key = store.key_for(lock)
    crashed = store.root / "tmp" / f"{key}.deadbeef"
    (crashed / "site-packages").mkdir(parents=True)
    assert await store.prune(set()) == []
    assert leftovers(store) == []


async def test_a_half_built_environment_is_never_used(
    store: EnvironmentStore, target: Target
) -> None:
    lock = await lock_for(store, "delta")
    key = store.key_for(lock)
    # What a crash between writes could leave: a directory without its COMPLETE marker.
    half = store.root / "envs" / key
    (half / "site-packages").mkdir(parents=True)
    (store.root / "tmp" / f"{key}.0badc0de").mkdir()
    assert await store.get(key) is None
    assert await store.list_environments() == []
    env = await store.ensure(lock)
    assert env.built
    assert import_versions(target, env.path, "delta") == {"delta": "1.0"}
    assert leftovers(store) == []


async def test_an_sdist_that_fails_to_compile_names_the_cause(
    store: EnvironmentStore, links: Path
) -> None:
    write_sdist(links, "native", "1.0", mode="fail")
    lock = await lock_for(store, "native")
    with pytest.raises(EnvironmentBuildFailed) as caught:
        await store.ensure(lock)
    error = caught.value
    assert error.cause is BuildCause.SDIST_BUILD_FAILED
    assert "installing the environment failed: a source distribution failed to build" in str(error)
    assert "Failed to build `native==1.0`" in error.message
    assert "Python.h: No such file or directory" in error.message
    assert await store.get(store.key_for(lock)) is None
    assert leftovers(store) == []


async def test_a_build_that_runs_too_long_is_killed(
    tmp_path: Path, options: BuildOptions, target: Target, links: Path
) -> None:
    pidfile = tmp_path / "backend.pid"
    write_sdist(links, "sleepy", "1.0", sleep_s=600.0, pidfile=pidfile)
    store = EnvironmentStore(tmp_path / "envs", replace(options, build_timeout_s=3.0), target)
    lock = await lock_for(store, "sleepy")
    with pytest.raises(EnvironmentBuildFailed) as caught:
        await store.ensure(lock)
    assert caught.value.cause is BuildCause.TIMEOUT
    assert caught.value.message == "installing the environment timed out after 3s; uv was stopped"
    assert await store.get(store.key_for(lock)) is None
    assert leftovers(store) == []
    # The build backend, a grandchild of uv, died with it.
    assert pidfile.exists()
    assert await _gone(int(pidfile.read_text()))


async def test_a_cancelled_build_stops_uv_and_leaves_nothing(
    store: EnvironmentStore, links: Path, tmp_path: Path
) -> None:
    pidfile = tmp_path / "backend.pid"
    write_sdist(links, "sleepy", "1.0", sleep_s=600.0, pidfile=pidfile)
    lock = await lock_for(store, "sleepy")
    build = asyncio.create_task(store.ensure(lock))
    while not pidfile.exists() or not pidfile.read_text():
        await asyncio.sleep(0.05)  # until the backend is running, whenever that is
    build.cancel()
    with pytest.raises(asyncio.CancelledError):
        await build
    assert await _gone(int(pidfile.read_text()))
    assert await store.get(store.key_for(lock)) is None
    assert leftovers(store) == []


async def _gone(pid: int) -> bool:
    """Whether `pid` has exited (a zombie awaiting its reaper counts as exited)."""
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        await asyncio.sleep(0.1)
    return False


async def test_an_environment_over_the_size_cap_is_refused(
    tmp_path: Path, options: BuildOptions, target: Target, links: Path
) -> None:
    write_wheel(str(links), "bulky", "1.0", payload_bytes=300_000)
    store = EnvironmentStore(tmp_path / "envs", replace(options, max_env_bytes=100_000), target)
    lock = await lock_for(store, "bulky")
    with pytest.raises(EnvironmentBuildFailed) as caught:
        await store.ensure(lock)
    assert caught.value.cause is BuildCause.TOO_LARGE
    assert "the environment is too large" in caught.value.message
    assert "the limit is 100000 bytes" in caught.value.message
    assert caught.value.detail()["max_env_bytes"] == 100_000
    assert await store.get(store.key_for(lock)) is None
    assert leftovers(store) == []


async def test_a_missing_artifact_at_install_time_fails_clearly(
    store: EnvironmentStore, links: Path
) -> None:
    lock = await lock_for(store, "delta")
    (links / "delta-1.0-py3-none-any.whl").unlink()
    with pytest.raises(EnvironmentBuildFailed) as caught:
        await store.ensure(lock)
    assert caught.value.cause is BuildCause.PACKAGE_NOT_FOUND
    assert "delta" in caught.value.message


async def test_the_key_depends_on_the_target(store: EnvironmentStore, target: Target) -> None:
    lock = await lock_for(store, "delta")
    other = EnvironmentStore(store.root, store.options, replace(target, cache_tag="cpython-312"))
    assert store.key_for(lock) != other.key_for(lock)
    moved = EnvironmentStore(store.root, store.options, replace(target, python=Path("/x/py")))
    assert store.key_for(lock) == moved.key_for(lock)


async def test_keys_from_callers_cannot_name_paths(store: EnvironmentStore) -> None:
    with pytest.raises(ValueError, match="not an environment key"):
        await store.get("../../etc")


async def test_an_empty_lock_gives_an_empty_environment(store: EnvironmentStore) -> None:
    env = await store.ensure(Lock.from_text(""))
    assert env.built
    assert list(env.path.iterdir()) == []
