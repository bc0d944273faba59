"""Fixtures for sandbox tests: a real SandboxStarter and a helper that runs a hostile script.

Tests skip (with the probe's reason) only on hosts that lack a required layer; on the project's
machines every layer is present and nothing is skipped.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandlot.sandbox.probe import sandbox_support
from sandlot.sandbox.spec import ExitInfo, ProcessHandle, ProcessSpec, ResourceReport, SandboxLimits
from sandlot.sandbox.starter import SandboxStarter
from tests.conftest import SANDBOX_UID_BASE, skip_outside_ci

BASE_PREFIX = Path(sys.base_prefix)
PYTHON = BASE_PREFIX / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="session")
def sandbox_supported() -> None:
    supported, why = sandbox_support()
    if not supported:
        skip_outside_ci(f"this host lacks required sandbox layers: {why}")
    if os.geteuid() != 0:
        skip_outside_ci("sandbox tests create cgroups and need root (see test_unprivileged.py)")


@pytest.fixture
async def starter(sandbox_supported: None, tmp_path: Path) -> AsyncIterator[SandboxStarter]:
    sandbox = SandboxStarter(tmp_path / "run", uid_base=SANDBOX_UID_BASE)
    try:
        yield sandbox
    finally:
        await sandbox.close()


@dataclass
class Outcome:
    exit: ExitInfo
    stdout: str
    stderr: str
    report: ResourceReport


@dataclass
class Script:
    """A script in its own code directory (one of the process's ro_paths)."""

    code_dir: Path
    path: Path


def write_script(tmp_path: Path, source: str, name: str = "code") -> Script:
    code_dir = tmp_path / name
    code_dir.mkdir(exist_ok=True)
    path = code_dir / "main.py"
    path.write_text(textwrap.dedent(source))
    return Script(code_dir, path)


def make_spec(
    script: Script,
    *,
    name: str = "proc",
    group: str = "g1",
    limits: SandboxLimits | None = None,
    pass_fds: Mapping[int, int] | None = None,
    stdout_fd: int | None = None,
    stderr_fd: int | None = None,
    args: tuple[str, ...] = (),
) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        group=group,
        argv=[str(PYTHON), "-I", "-S", str(script.path), *args],
        env={"LANG": "C.UTF-8"},
        cwd=script.code_dir,
        ro_paths=[BASE_PREFIX, script.code_dir],
        limits=limits or SandboxLimits(memory_mb=128),
        pass_fds=dict(pass_fds or {}),
        stdout_fd=stdout_fd,
        stderr_fd=stderr_fd,
    )


async def run_to_end(
    starter: SandboxStarter,
    tmp_path: Path,
    source: str,
    *,
    limits: SandboxLimits | None = None,
    group: str = "g1",
    args: tuple[str, ...] = (),
    pass_fds: Mapping[int, int] | None = None,
) -> Outcome:
    """Run a script to its end in the sandbox; its stdout/stderr go to host files."""
    script = write_script(tmp_path, source, name=f"code-{group}")
    out_path, err_path = tmp_path / f"{group}.out", tmp_path / f"{group}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        spec = make_spec(
            script,
            group=group,
            limits=limits,
            args=args,
            pass_fds=pass_fds,
            stdout_fd=out.fileno(),
            stderr_fd=err.fileno(),
        )
        handle: ProcessHandle = await starter.start(spec)
    try:
        exit_info = await handle.wait()
    finally:
        await handle.cleanup()
    return Outcome(exit_info, out_path.read_text(), err_path.read_text(), handle.report())
