"""What a worker says it can run at once (`cgroups.cpu_capacity`): its CPUs, capped by the
CPU quota of the cgroup it was started in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sandlot.sandbox.cgroups import cpu_capacity
from tests.conftest import skip_outside_ci

CPU_V1 = Path("/sys/fs/cgroup/cpu")
PRINT_CAPACITY = "from sandlot.sandbox.cgroups import cpu_capacity; print(cpu_capacity())"


def test_without_a_quota_it_is_the_cpus_it_may_run_on() -> None:
    assert 0 < cpu_capacity() <= len(os.sched_getaffinity(0))


def test_a_quota_on_its_cgroup_caps_it() -> None:
    if os.geteuid() != 0 or not (CPU_V1 / "cgroup.procs").exists():
        skip_outside_ci("needs root and the cgroup v1 cpu controller at /sys/fs/cgroup/cpu")
    group = CPU_V1 / f"sandlot-test-capacity-{os.getpid()}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text("30000")
        joined = subprocess.run(
            ["sh", "-c", f'echo $$ > "{group}/cgroup.procs" && exec "$@"', "sh",
             sys.executable, "-c", PRINT_CAPACITY],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        assert float(joined.stdout) == 0.3
    finally:
        group.rmdir()
