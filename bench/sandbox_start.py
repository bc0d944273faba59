"""Start-to-first-byte of an instance: every sandbox layer vs a plain process.

The instance is the base interpreter (`-I -S`) running a script that writes one byte to fd 3,
as the bootstrap's control socket would be. Each starter is timed from `start()` to that byte
reaching the caller, then the process is cleaned up; the sandbox's per-group network namespace
is created by a warm-up start, as a pool would have it for every start after a version's first.

    python bench/sandbox_start.py [-n 100] [--json PATH]

Prints a table (median, p99, ratio to plain) and writes JSON. Ratios only, no asserts: the
machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

from sandlot.sandbox.plain import PlainStarter
from sandlot.sandbox.spec import ProcessSpec, SandboxLimits, Starter
from sandlot.sandbox.starter import SandboxStarter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.stats import p50, p99

BASE = Path(sys.base_prefix)
PYTHON = BASE / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "sandbox_start.json"


def _spec(code_dir: Path, sock: socket.socket, i: int) -> ProcessSpec:
    return ProcessSpec(
        name=f"bench-{i}",
        group="bench",
        argv=[str(PYTHON), "-I", "-S", str(code_dir / "main.py")],
        env={},
        cwd=code_dir,
        ro_paths=[BASE, code_dir],
        limits=SandboxLimits(memory_mb=256),
        pass_fds={3: sock.fileno()},
    )


async def _one(starter: Starter, code_dir: Path, i: int) -> tuple[float, float]:
    """(ms until start() returned, ms until the first byte arrived)."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    began = time.perf_counter()
    handle = await starter.start(_spec(code_dir, theirs, i))
    started = time.perf_counter()
    theirs.close()
    first = await loop.sock_recv(ours, 1)
    arrived = time.perf_counter()
    assert first == b"x", first
    await handle.wait()
    await handle.cleanup()
    ours.close()
    return (started - began) * 1e3, (arrived - began) * 1e3


async def measure_starter(starter: Starter, code_dir: Path, runs: int) -> dict[str, float | None]:
    first_ever = (await _one(starter, code_dir, -1))[1]  # the sandbox creates the group's netns
    starts, bytes_ = [], []
    for i in range(runs):
        start_ms, byte_ms = await _one(starter, code_dir, i)
        starts.append(start_ms)
        bytes_.append(byte_ms)
    await starter.close()
    return {
        "first_ms": first_ever,
        "start_p50_ms": p50(starts),
        "byte_p50_ms": p50(bytes_),
        "byte_p99_ms": p99(bytes_),
    }


async def main(runs: int, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="sandlot-bench-") as tmp:
        code_dir = Path(tmp) / "code"
        code_dir.mkdir()
        (code_dir / "main.py").write_text("import os\nos.write(3, b'x')\n")
        rows = {
            "plain": await measure_starter(PlainStarter(), code_dir, runs),
            "sandbox": await measure_starter(SandboxStarter(Path(tmp) / "run"), code_dir, runs),
        }
    plain_p50 = rows["plain"]["byte_p50_ms"] or 1.0
    header = ("first", "start p50", "byte p50", "byte p99")
    print(f"{'starter':<9} " + " ".join(f"{h:>9}" for h in header) + f" {'ratio':>6}")
    for name, row in rows.items():
        ratio = (row["byte_p50_ms"] or 0.0) / plain_p50
        row["ratio_p50_to_plain"] = ratio
        cells = [row["first_ms"], row["start_p50_ms"], row["byte_p50_ms"], row["byte_p99_ms"]]
        print(f"{name:<9} " + " ".join(f"{c or 0:>9.1f}" for c in cells) + f" {ratio:>6.2f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": runs, "unit": "ms", "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=100)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.json))
