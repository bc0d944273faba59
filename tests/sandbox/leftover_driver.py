"""Run by test_leftovers.py: a starter on RUN_DIR that starts one sleeping sandboxed process,
says so on stdout, and waits to be killed (`python -m tests.sandbox.leftover_driver RUN_DIR
UID_BASE`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sandlot.sandbox.spec import ProcessSpec, SandboxLimits
from sandlot.sandbox.starter import SandboxStarter

BASE = Path(sys.base_prefix)
PYTHON = BASE / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"


async def main(run_dir: Path, uid_base: int) -> None:
    starter = SandboxStarter(run_dir, uid_base=uid_base)
    spec = ProcessSpec(
        name="sleeper",
        group="g1",
        argv=[str(PYTHON), "-I", "-S", "-c", "import time; time.sleep(3600)"],
        env={},
        cwd=Path("/"),
        ro_paths=[BASE],
        limits=SandboxLimits(memory_mb=64),
    )
    await starter.start(spec)
    print("started", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
