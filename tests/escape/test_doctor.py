"""`sandlot doctor`: every layer as root on this host; as `nobody`, the cgroup layers missing.

Strict mode needs memory, pids and CPU cgroups; an unprivileged user gets them only through
delegation (systemd's Delegate=yes), which this host does not set up for `nobody`. So the
escape suite itself cannot run unprivileged here; doctor must say why, and exit non-zero.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sandlot.sandbox.probe import probe_host
from tests.conftest import SANDBOX_UID_BASE, open_api
from tests.escape.conftest import sqlite_in
from tests.readable import ReadableCopy

NOBODY = 65534
# `nobody` cannot enter /root, where the venv's base interpreter lives (pyenv), nor perhaps
# the checkout; Debian's python3 (3.11 too) runs the CLI from a readable copy of this package
# and the venv's packages (tests/readable.py).
SYSTEM_PYTHON = Path("/usr/bin/python3")
AS_NOBODY = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
WIDE = {"COLUMNS": "300", "TERM": "dumb", "NO_COLOR": "1"}


def _layers(output: str) -> dict[str, str]:
    """layer name -> the status column of doctor's table."""
    rows: dict[str, str] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            rows[parts[0]] = parts[1]
    return rows


def test_doctor_as_root_reports_every_layer_ok() -> None:
    assert os.geteuid() == 0, "this suite runs as root on the project's machine"
    proc = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "doctor"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **WIDE},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _layers(proc.stdout)
    for layer in probe_host():
        assert rows.get(layer.name) == "ok", (layer.name, proc.stdout)


def test_doctor_as_nobody_names_the_missing_cgroup_layers(readable_copy: ReadableCopy) -> None:
    version = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip() == str(sys.version_info[:2]), "needs the venv's Python version"
    for path in (readable_copy.src, readable_copy.site):  # nobody must be able to read them
        assert all(os.stat(p).st_mode & 0o005 == 0o005 for p in (path, *path.parents)), path
    proc = subprocess.run(
        [*AS_NOBODY, str(SYSTEM_PYTHON), "-m", "sandlot.cli.main", "doctor"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": readable_copy.python_path, "HOME": "/", **WIDE},
        check=False,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    rows = _layers(proc.stdout)
    for layer in ("cgroup_memory", "cgroup_pids", "cgroup_cpu"):
        assert rows.get(layer) == "MISSING", (layer, proc.stdout, proc.stderr)
    assert "not delegated" in proc.stdout
    # Everything else still holds for an unprivileged user here.
    for layer in ("user_namespace", "pid_namespace", "pivot_root", "seccomp", "landlock"):
        assert rows.get(layer) == "ok", (layer, proc.stdout)


def test_doctor_and_readyz_show_the_configured_uid_base(tmp_path: Path) -> None:
    # This run's own base (tests.conftest), never the default: the report must follow it.
    base = SANDBOX_UID_BASE
    expected = f"({base} to {base + 65_535})"
    proc = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "doctor"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **WIDE, "SANDLOT_SANDBOX_UID_BASE": str(base)},
        check=False,
    )
    row = next(line for line in proc.stdout.splitlines() if line.startswith("distinct_uid"))
    assert expected in row, proc.stdout
    summary = asyncio.run(_readyz_summary(tmp_path / "data"))
    row = next(line for line in summary.splitlines() if line.startswith("distinct_uid"))
    assert expected in row, summary


async def _readyz_summary(data_dir: Path) -> str:
    async with open_api(data_dir, sqlite_in(data_dir)) as api:
        summary: str = (await api.client.get("/readyz")).json()["sandbox_summary"]
        return summary
