"""The sandbox's own cost: a fresh process with every layer vs a plain process.

The zygote path avoids paying this per instance; these rows show what each layer costs when a
process is started from scratch (a version's first start pays it once, for its zygote).
Measured by `bench.sandbox_start`: start() to the first byte the process writes on fd 3.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.context import Bench
from bench.results import Row
from bench.sandbox_start import measure_starter
from sandlot.sandbox.plain import PlainStarter
from sandlot.sandbox.starter import SandboxStarter


async def _both(runs: int) -> tuple[dict[str, float | None], dict[str, float | None]]:
    with tempfile.TemporaryDirectory(prefix="sandlot-bench-") as tmp:
        code_dir = Path(tmp) / "code"
        code_dir.mkdir()
        (code_dir / "main.py").write_text("import os\nos.write(3, b'x')\n")
        plain = await measure_starter(PlainStarter(), code_dir, runs)
        sandboxed = await measure_starter(SandboxStarter(Path(tmp) / "run"), code_dir, runs)
    return plain, sandboxed


def measure(bench: Bench) -> list[Row]:
    runs = 10 if bench.smoke else 100
    bench.say(f"sandbox: {runs} fresh starts each, plain and with every layer")
    plain, sandboxed = asyncio.run(_both(runs))
    rows = []
    for stat in ("p50", "p99"):
        row = Row(f"sandbox: fresh process start, every layer, {stat}", "ms", None)
        row.measured = sandboxed[f"byte_{stat}_ms"]
        row.baseline = plain[f"byte_{stat}_ms"]
        row.baseline_name = "plain process"
        row.notes.append(
            f"first start of a group (creates its network namespace): "
            f"{sandboxed['first_ms'] or 0:.1f} ms; reported only, the issue sets no target"
        )
        rows.append(row)
    return rows
