"""Helpers shared by the dependency tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sandlot.envs import EnvironmentStore, Lock, Requirements, Target

# alpha needs beta<2 and gamma needs beta>=2: together they conflict.
PACKAGES: dict[tuple[str, str], tuple[str, ...]] = {
    ("alpha", "1.0"): ("beta<2",),
    ("beta", "1.5"): (),
    ("beta", "2.0"): (),
    ("gamma", "1.0"): ("beta>=2",),
    ("delta", "1.0"): (),
}


def reqs(*lines: str) -> Requirements:
    return Requirements(lines=tuple(lines), source="requirements.txt")


async def lock_for(store: EnvironmentStore, *lines: str) -> Lock:
    return await store.resolve(reqs(*lines))


def import_versions(target: Target, site: Path, *modules: str) -> dict[str, str]:
    """Import `modules` the way functions do (`python -I -S`, the env on sys.path)."""
    code = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        f"print(json.dumps({{m: importlib.import_module(m).VERSION for m in {list(modules)!r}}}))"
    )
    out = subprocess.run(
        [str(target.python), "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={},
    )
    versions: dict[str, str] = json.loads(out.stdout)
    return versions
