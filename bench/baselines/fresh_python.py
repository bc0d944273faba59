"""A fresh Python process per call: what serving a function costs without a pool or a zygote.

The interpreter is the base one that Sandlot's instances use, started with `-I -S` as they
are: with site hooks this pyenv interpreter imports certifi from a `.pth` file (~40 ms more,
see shared/FACTS.md), which would flatter Sandlot by measuring pyenv rather than Python.
`with_site_ms` in the notes keeps that number for comparison.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.procs import BASE_PYTHON
from bench.workload import Workload

FLAGS = ("-I", "-S")

# One call: import the handler as an instance would (code first, then its packages), call
# it once with a Lambda-like context, print the JSON result.
CALL = """\
import sys, json
sys.path[:0] = {paths!r}
import main
class Context:
    invocation_id = "bench"; function_name = "bench"; function_version = 1
    memory_limit_in_mb = memory_limit_mb = 256
    def get_remaining_time_ms(self): return 30000
print(json.dumps(main.handler(json.loads({event!r}), Context())))
"""

IMPORT_ONLY = """\
import sys
sys.path[:0] = {paths!r}
{imports}
import main
"""


def _paths(workload: Workload, deps: Path | None) -> list[str]:
    return [str(workload.folder)] + ([str(deps)] if deps else [])


def call_script(workload: Workload, deps: Path | None) -> str:
    return CALL.format(paths=_paths(workload, deps), event=workload.event_json)


def import_script(workload: Workload, deps: Path | None) -> str:
    imports = "\n".join(f"import {name}" for name in workload.import_names)
    return IMPORT_ONLY.format(paths=_paths(workload, deps), imports=imports)


def time_runs(
    argv: list[str], samples: int, cwd: Path, timeout_s: float = 60.0, budget_s: float = 60.0
) -> list[float]:
    """Wall milliseconds of each run of `argv`, measured from here; each run must exit 0."""
    times: list[float] = []
    began = time.monotonic()
    for _ in range(samples):
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=timeout_s, check=False)
        elapsed = (time.perf_counter() - started) * 1000
        if done.returncode != 0:
            raise RuntimeError(
                f"{argv[0]} exited {done.returncode}: {done.stderr.decode(errors='replace')[-600:]}"
            )
        times.append(elapsed)
        if time.monotonic() - began > budget_s:
            break
    return times


def per_call(
    workload: Workload, deps: Path | None, samples: int, site: bool = False
) -> list[float]:
    flags = () if site else FLAGS
    argv = [BASE_PYTHON, *flags, "-c", call_script(workload, deps)]
    return time_runs(argv, samples, workload.folder)


def import_only(workload: Workload, deps: Path | None, samples: int) -> list[float]:
    argv = [BASE_PYTHON, *FLAGS, "-c", import_script(workload, deps)]
    return time_runs(argv, samples, workload.folder)
