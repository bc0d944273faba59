"""`SANDLOT_INSTANCE_CPUS` is the CPU quota an instance's sandbox gets: a worker held to a
fraction of a CPU runs its instances under it (cgroup v1 refuses a child more than its
parent), and the scaling benchmark holds its workers that way."""

from __future__ import annotations

from pathlib import Path

from sandlot.sandbox.plain import PlainStarter
from sandlot.worker.launcher import ProcessLauncher
from tests.conftest import make_settings
from tests.worker.helpers import FunctionFactory


def test_an_instances_cpu_quota_is_the_setting(tmp_path: Path) -> None:
    spec = FunctionFactory(tmp_path / "code")("def handler(event, context):\n    return 1\n")
    for cpus in (1.0, 0.25):
        settings = make_settings(tmp_path / "data", instance_cpus=cpus)
        launcher = ProcessLauncher(PlainStarter(), settings)
        process = launcher.process_spec(spec, "fn-1-1", control_fd=3, output_fd=4)
        assert process.limits.cpus == cpus
