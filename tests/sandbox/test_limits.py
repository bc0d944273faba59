"""Cgroup limits: memory (the OOM killer ends the whole sandbox), pids, and the report."""

from __future__ import annotations

import signal
from pathlib import Path

from sandlot.sandbox.spec import SandboxLimits
from sandlot.sandbox.starter import SandboxStarter

from .conftest import run_to_end

MEMORY_BOMB = """
hoard = []
while True:
    hoard.append(bytearray(8 << 20))
"""

# The bomb runs in a forked child while the script itself stays small: on cgroup v1 the OOM
# killer takes only the largest task, and the sandbox must still end as a whole.
CHILD_MEMORY_BOMB = """
import os, time
if os.fork() == 0:
    hoard = []
    while True:
        hoard.append(bytearray(8 << 20))
time.sleep(600)
"""

FORK_BOMB = """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
except OSError as exc:
    print(exc.errno, children)
"""


async def test_memory_bomb_is_oom_killed(starter: SandboxStarter, tmp_path: Path) -> None:
    outcome = await run_to_end(starter, tmp_path, MEMORY_BOMB, limits=SandboxLimits(memory_mb=64))
    assert outcome.exit.signal == signal.SIGKILL
    assert outcome.report.oom_killed
    assert outcome.report.peak_memory_bytes is not None
    assert outcome.report.peak_memory_bytes <= 64 << 20


async def test_oom_in_a_child_ends_the_whole_sandbox(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    outcome = await run_to_end(
        starter, tmp_path, CHILD_MEMORY_BOMB, limits=SandboxLimits(memory_mb=64)
    )
    assert outcome.exit.signal == signal.SIGKILL
    assert outcome.report.oom_killed


async def test_fork_bomb_hits_the_pids_limit(starter: SandboxStarter, tmp_path: Path) -> None:
    limits = SandboxLimits(memory_mb=256, pids=16)
    outcome = await run_to_end(starter, tmp_path, FORK_BOMB, limits=limits)
    assert outcome.exit.returncode == 0, outcome.stderr
    errno_value, children = outcome.stdout.split()
    assert int(errno_value) == 11  # EAGAIN
    assert 0 < int(children) < 16
    assert outcome.report.pids_limit_hit
    assert not outcome.report.oom_killed


async def test_quiet_process_reports_no_limit_hit(starter: SandboxStarter, tmp_path: Path) -> None:
    outcome = await run_to_end(starter, tmp_path, "print('hi')")
    assert outcome.exit.returncode == 0
    assert outcome.stdout == "hi\n"
    assert outcome.report.oom_killed is False
    assert outcome.report.pids_limit_hit is False
    assert outcome.report.peak_memory_bytes is not None and outcome.report.peak_memory_bytes > 0
