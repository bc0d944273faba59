"""What a crashed starter left that will not die at once: its uids stay unused, and its
cgroups are swept once their last member is gone.

A process the freezer holds is such a leftover for real: SIGKILL waits until it is thawed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandlot.sandbox.starter import SandboxStarter
from tests.conftest import SANDBOX_UID_BASE, skip_outside_ci
from tests.escape.conftest import own_cgroup_dirs, sandlot_cgroups, wait_for
from tests.sandbox.conftest import make_spec, write_script

ROOT = Path(__file__).resolve().parents[2]


def _freezer_root() -> Path:
    mount = Path("/sys/fs/cgroup/freezer")
    if not (mount / "cgroup.procs").exists():
        skip_outside_ci("needs the cgroup v1 freezer at /sys/fs/cgroup/freezer")
    return mount


@pytest.fixture
def freezer(sandbox_supported: None) -> Iterator[Path]:
    """A freezer cgroup of the test's own; thawed and removed at the end."""
    cgroup = _freezer_root() / f"sandlot-test-{uuid.uuid4().hex[:8]}"
    cgroup.mkdir()
    try:
        yield cgroup
    finally:
        (cgroup / "freezer.state").write_text("THAWED")
        wait_for(lambda: not (cgroup / "cgroup.procs").read_text().split(), what="thawed")
        cgroup.rmdir()


def _members(server_pid: int) -> dict[int, int]:
    """Host pid -> real uid, of the processes in a starter's cgroups (`pids` controller)."""
    pids_root = own_cgroup_dirs()["pids"] / "sandlot"
    found: dict[int, int] = {}
    for cgroup in sandlot_cgroups(server_pid):
        if cgroup.is_relative_to(pids_root) and cgroup.parent != pids_root:
            for pid in (cgroup / "cgroup.procs").read_text().split():
                status = Path(f"/proc/{pid}/status").read_text()
                uid = next(line for line in status.splitlines() if line.startswith("Uid:"))
                found[int(pid)] = int(uid.split()[1])
    return found


def _crash_a_starter_with_frozen_processes(run_dir: Path, freezer: Path) -> tuple[int, int]:
    """A starter in another process starts a sandbox, which the freezer then holds, and the
    process is killed with -9. Returns (its pid, the uid its sandbox ran as)."""
    driver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.sandbox.leftover_driver",
            str(run_dir),
            str(SANDBOX_UID_BASE),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert driver.stdout is not None and driver.stdout.readline().strip() == "started"
        members = _members(driver.pid)
        [uid] = {uid for uid in members.values() if uid >= SANDBOX_UID_BASE}
        for pid in members:
            (freezer / "cgroup.procs").write_text(str(pid))
        (freezer / "freezer.state").write_text("FROZEN")
        wait_for(lambda: (freezer / "freezer.state").read_text().strip() == "FROZEN")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        if driver.stdout is not None:
            driver.stdout.close()
    return driver.pid, uid


async def test_leftovers_keep_their_uid_until_gone_and_are_swept_later(
    tmp_path: Path, freezer: Path
) -> None:
    run_dir = tmp_path / "run"
    crashed, frozen_uid = _crash_a_starter_with_frozen_processes(run_dir, freezer)
    assert frozen_uid == SANDBOX_UID_BASE  # the first group's uid
    assert _members(crashed), "the frozen sandbox should outlive its starter"
    starter = SandboxStarter(run_dir, uid_base=SANDBOX_UID_BASE)
    try:
        # Killed but still there: the uid is not handed out again...
        script = write_script(tmp_path, "import time\ntime.sleep(600)\n")
        handle = await starter.start(make_spec(script, group="g1"))
        assert set(_members(os.getpid()).values()) == {SANDBOX_UID_BASE + 1}
        # ...and the crashed run's cgroups cannot go yet; the sweeper keeps them.
        assert await starter.sweep_leftovers() > 0
        assert sandlot_cgroups(crashed)
        (freezer / "freezer.state").write_text("THAWED")
        wait_for(lambda: not _members(crashed), what="the thawed leftovers die")
        assert await starter.sweep_leftovers() == 0
        assert not sandlot_cgroups(crashed)
        await handle.cleanup()
    finally:
        await starter.close()
    assert not (run_dir / "owned").exists()  # a clean close leaves nothing to end
    # The thawed leftovers are reaped by the host's init a moment after they leave their
    # cgroups; the next test's first sandbox runs as the same uid and must not see them.
    wait_for(lambda: not _running_as(frozen_uid), what="the leftovers' uid is free")


def _running_as(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                pids.append(int(entry))
        except FileNotFoundError:
            continue
    return pids
