"""How fast the CLI starts: `sandlot --help`, and `sandlot invoke` of a warm trivial function,
against a bare `python -c pass` of the same interpreter, sampled in turns in the same run.

Each sample is the wall time of the whole process, from spawn to exit, as a user waits for
it: the console script `sandlot` beside the bench's interpreter (the venv's), no SANDLOT_*
settings but the URL and key of the bench's warm server. The target is the issue's: under
0.3 s for each. Most of it is imports; tests/cli/test_cli_imports.py checks which.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench import stats
from bench.context import Bench
from bench.results import Row, Target
from bench.sandlot_server import API_KEY
from bench.workload import WORKLOADS

FUNCTION = "bench-cli-trivial"
TARGET_MS = 300.0
FULL_SAMPLES, SMOKE_SAMPLES = 30, 3


def _wall_ms(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = (time.perf_counter() - started) * 1000.0
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1:]} exited {done.returncode}: {done.stderr[-500:]!r}")
    return elapsed


def measure(bench: Bench) -> list[Row]:
    server = bench.warm()
    help_row = Row("cli: start-up, sandlot --help", "ms", Target("<=", TARGET_MS, "measured"))
    invoke_row = Row(
        "cli: start-up, sandlot invoke (warm trivial)", "ms", Target("<=", TARGET_MS, "measured")
    )
    why = bench.runnable(server, WORKLOADS["trivial"], FUNCTION)
    if why is not None:
        invoke_row.notes.append(f"NOT AVAILABLE: {why}")
    sandlot = str(Path(sys.executable).with_name("sandlot"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
    env = {**clean, "SANDLOT_URL": server.url, "SANDLOT_API_KEY": API_KEY}
    commands = {
        "pass": [sys.executable, "-c", "pass"],
        "help": [sandlot, "--help"],
        **({"invoke": [sandlot, "invoke", FUNCTION]} if why is None else {}),
    }
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(SMOKE_SAMPLES if bench.smoke else FULL_SAMPLES):
        for name, argv in commands.items():  # in turns, so that all share the machine's noise
            samples[name].append(_wall_ms(argv, env))
    baseline = stats.p50(samples["pass"])
    for row, name in ((help_row, "help"), (invoke_row, "invoke")):
        if name not in samples:
            continue
        row.measured, row.baseline = stats.p50(samples[name]), baseline
        row.baseline_name = "python -c pass"
        row.notes.append(f"p50 of {len(samples[name])}; min {min(samples[name]):.0f} ms")
    return [help_row, invoke_row]
