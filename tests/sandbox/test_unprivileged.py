"""The sandbox started by an unprivileged user (`nobody`), as on a host without root.

Without root and without a delegated cgroup there are no memory/pids/CPU limits, and the
probe must say so; every other layer (namespaces, read-only root, seccomp, Landlock,
no capabilities) still holds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_outside_ci
from tests.readable import ReadableCopy

DRIVER = Path(__file__).with_name("unprivileged_driver.py")
SYSTEM_PYTHON = Path("/usr/bin/python3")
NOBODY = 65534


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root to switch to the nobody user"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing"
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} is missing"
    version = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[:2] >= (3, 11))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if version.stdout.strip() != "True":
        return f"{SYSTEM_PYTHON} is older than 3.11"
    return None


@pytest.fixture
def work_dir() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="sandlot-unpriv-", dir="/tmp"))
    os.chown(work, NOBODY, NOBODY)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_unprivileged_sandbox(
    sandbox_supported: None, work_dir: Path, readable_copy: ReadableCopy
) -> None:
    why = _why_not()
    if why:
        skip_outside_ci(why)
    driver = shutil.copy(DRIVER, work_dir / DRIVER.name)  # the checkout may be closed to nobody
    proc = subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            str(SYSTEM_PYTHON),
            "-I",
            str(driver),
            str(work_dir),
            str(readable_copy.src),
            str(readable_copy.site),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["host_uid"] == NOBODY
    inside = result["inside"]
    assert (inside["uid"], inside["pid"]) == (1000, 2)
    assert inside["read_shadow"] == "ENOENT"
    assert inside["read_outside"] == "ENOENT"
    assert inside["write_usr"] in ("EROFS", "EACCES")
    assert inside["write_tmp"] == "ok"
    assert inside["connect_host"] != "ok"
    assert inside["unshare"] == "EPERM"
    assert inside["no_new_privs"] == "1"
    assert result["exit_signal"] == 9
    assert result["survivors"] is False
    # The probe tells the truth: no cgroups (not delegated), no distinct uid; the rest holds.
    assert result["has_cgroups"] is False
    layers = result["layers"]
    assert not layers["cgroup_memory"] and not layers["cgroup_pids"] and not layers["distinct_uid"]
    for layer in (
        "user_namespace",
        "net_namespace",
        "pivot_root",
        "seccomp",
        "landlock",
        "capabilities",
        "no_new_privs",
    ):
        assert layers[layer], layer
