"""The functions the bench runs, their events, and the dependencies the baselines need.

Baselines (a fresh `python`, a runc container) import the same code with the same packages,
so the bench installs each workload's requirements itself with uv into a cache outside the
work tree (`$XDG_CACHE_HOME/sandlot-bench`, where mypy and ruff do not look), one `--target`
folder per requirements file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import BASE_PYTHON

WORKLOADS_DIR = Path(__file__).resolve().parent / "workloads"
DEPS_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sandlot-bench" / "deps"
)


@dataclass(frozen=True)
class Workload:
    name: str
    event: Any
    root: Path = WORKLOADS_DIR  # where its folder lives (the envs row writes one of its own)

    @property
    def folder(self) -> Path:
        return self.root / self.name

    @property
    def requirements(self) -> list[str]:
        path = self.folder / "requirements.txt"
        if not path.exists():
            return []
        lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
        return [line for line in lines if line]

    @property
    def import_names(self) -> list[str]:
        """Top-level modules of its dependencies, for the `python -c "import ..."` baseline."""
        names = {"pillow": "PIL"}
        bare = (req.split("==")[0].strip().lower() for req in self.requirements)
        return [names.get(name, name) for name in bare]

    @property
    def function_name(self) -> str:
        return "bench-" + self.name.replace("_", "-")

    @property
    def event_json(self) -> str:
        return json.dumps(self.event)

    def zip_bytes(self, stamp: str | None = None) -> bytes:
        """The folder's code; with `stamp`, plus a file holding it, so that each deploy is new
        code (a deploy identical to the newest version makes no version)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.folder.iterdir()):
                if path.is_file() and path.suffix in (".py", ".txt"):
                    archive.write(path, path.name)
            if stamp is not None:
                archive.writestr("BENCH_DEPLOY", stamp)
        return buffer.getvalue()


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("trivial", {"name": "Ada"}),
        Workload("json_transform", {}),
        Workload("jinja2_render", {}),
        Workload("numpy_matmul", {"size": 128}),
        Workload("pillow_thumbnail", {"side": 512}),
    )
}


def deps_dir(workload: Workload) -> Path | None:
    """A folder holding the workload's packages for the base interpreter, installed once.

    None when it has no requirements. Raises RuntimeError (with uv's output) when the
    install fails, so the caller can mark the rows instead of crashing the run.
    """
    if not workload.requirements:
        return None
    key = hashlib.sha256(("\n".join(workload.requirements) + BASE_PYTHON).encode()).hexdigest()[:16]
    target = DEPS_CACHE / f"{workload.name}-{key}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    uv = Path(sys.executable).parent / "uv"
    done = subprocess.run(
        [str(uv if uv.exists() else "uv"), "pip", "install", "--quiet", "--python", BASE_PYTHON,
         "--target", str(target), *workload.requirements],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"uv could not install {workload.requirements}: {done.stderr[-800:]}")
    (target / ".complete").write_text("")
    return target
