"""Cold start of a sandboxed instance: forked from a running zygote vs a fresh process.

Times `RuntimePool.invoke` of a trivial handler, every call a cold start (the idle instance
is discarded between calls), with zygotes and with a process per instance. Also times the
first start of a version (zygote start + fork) against a bare `python -I -S -c "import json"`.

    python bench/zygote_start.py [-n 200] [--plain]

Prints p50/p99 and ratios; no asserts: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.stats import p50, p99
from sandlot.config import Settings
from sandlot.sandbox.plain import PlainStarter
from sandlot.sandbox.spec import Starter
from sandlot.sandbox.starter import SandboxStarter
from sandlot.worker.interface import VersionSpec
from sandlot.worker.pool import RuntimePool

HANDLER = "import json\n\ndef handler(event, context):\n    return event\n"


def _spec(code_dir: Path, version: int) -> VersionSpec:
    return VersionSpec(
        function_id="bench",
        namespace="default",
        function_name="bench",
        version=version,
        handler="main.handler",
        memory_mb=128,
        timeout_s=10,
        env={},
        code_dir=code_dir,
    )


async def _cold_starts(starter: Starter, root: Path, zygotes: bool, n: int) -> list[float]:
    pool = RuntimePool(starter, Settings(data_dir=root / "data", zygotes=zygotes))
    spec = _spec(root, 1)
    times: list[float] = []
    try:
        await pool.invoke(spec, "warm-up", b"1")  # the group (and the zygote) exist now
        for i in range(n):
            for version in list(pool._versions.values()):
                await pool._discard_all(version, list(version.idle), "bench")
            began = time.perf_counter()
            outcome = await pool.invoke(spec, f"i{i}", b"1")
            times.append((time.perf_counter() - began) * 1000)
            assert outcome.cold_start and outcome.error is None, outcome.error
    finally:
        await pool.close(0)
    return times


async def _first_starts(starter: Starter, root: Path, n: int) -> list[float]:
    pool = RuntimePool(starter, Settings(data_dir=root / "data"))
    times: list[float] = []
    try:
        await pool.invoke(_spec(root, 0), "warm-up", b"1")
        for i in range(1, n + 1):
            began = time.perf_counter()
            await pool.invoke(_spec(root, i), f"f{i}", b"1")
            times.append((time.perf_counter() - began) * 1000)
            await pool.retire_version("bench", i)
    finally:
        await pool.close(0)
    return times


def _bare_imports(n: int) -> list[float]:
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    times = []
    for _ in range(n):
        began = time.perf_counter()
        subprocess.run([str(python), "-I", "-S", "-c", "import json"], check=True)
        times.append((time.perf_counter() - began) * 1000)
    return times


def _row(label: str, times: list[float], base: float) -> None:
    mid, tail = p50(times) or 0.0, p99(times) or 0.0
    print(f"{label:40s} p50 {mid:7.2f} ms  p99 {tail:7.2f} ms  x{mid / base:5.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--plain", action="store_true", help="insecure-dev starter")
    args = parser.parse_args()

    def starter(run: Path) -> Starter:
        return PlainStarter() if args.plain else SandboxStarter(run)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the sandbox's uid reads the code from here
        (root / "main.py").write_text(HANDLER)
        forked = await _cold_starts(starter(root / "r1"), root, True, args.n)
        fresh = await _cold_starts(starter(root / "r2"), root, False, max(20, args.n // 5))
        first = await _first_starts(starter(root / "r3"), root, max(10, args.n // 20))
    bare = _bare_imports(max(10, args.n // 20))
    base, bare_base = p50(fresh) or 1.0, p50(bare) or 1.0
    _row("fresh sandboxed process (per instance)", fresh, base)
    _row("forked from a running zygote", forked, base)
    print()
    _row("bare python -I -S -c 'import json'", bare, bare_base)
    _row("first start (zygote + fork)", first, bare_base)


if __name__ == "__main__":
    asyncio.run(main())
