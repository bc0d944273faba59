"""Function fixtures as real files, and a look at the processes the tests leave behind."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from sandlot.worker.interface import VersionSpec


class FunctionFactory:
    """Writes a function's code into its own folder and returns a spec for it."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._count = 0

    def __call__(self, source: str, **overrides: Any) -> VersionSpec:
        self._count += 1
        code_dir = self._root / f"fn{self._count}"
        code_dir.mkdir(parents=True)
        (code_dir / "main.py").write_text(textwrap.dedent(source))
        fields: dict[str, Any] = {
            "function_id": f"fid{self._count}",
            "namespace": "default",
            "function_name": f"fn-{self._count}",
            "version": 1,
            "handler": "main.handler",
            "memory_mb": 128,
            "timeout_s": 10,
            "env": {},
            "code_dir": code_dir,
        }
        fields.update(overrides)
        return VersionSpec(**fields)


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces or parentheses: fields resume after the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (parent := _parent_of(int(entry))) is not None:
            parents[int(entry)] = parent
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def instance_processes() -> set[int]:
    """Processes below this test process that run the bootstrap (or a zygote, or an
    instance forked from one)."""
    pids = set()
    for pid in descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"bootstrap.py" in cmdline or b"/zygote.py" in cmdline:
            pids.add(pid)
    return pids


def process_exists(pid: int) -> bool:
    """True while `pid` runs or is an unreaped zombie."""
    return Path(f"/proc/{pid}").exists()


def parent_of(pid: int) -> int | None:
    return _parent_of(pid)


def zygote_pid(pool: object, spec: VersionSpec) -> int:
    """The host pid of the version's running zygote process."""
    from sandlot.worker.zygote_launcher import ZygoteLauncher

    launcher = pool._launcher  # type: ignore[attr-defined]
    assert isinstance(launcher, ZygoteLauncher)
    zygote = launcher.zygote(spec.key)
    assert zygote is not None and zygote.alive
    root = zygote.process.handle.pid  # the zygote itself, or the sandbox's launcher above it
    for pid in sorted({root} | descendants(root)):
        parent = _parent_of(pid)
        if _runs_zygote(pid) and (parent is None or not _runs_zygote(parent)):
            return pid
    raise AssertionError("no zygote process found")


def _runs_zygote(pid: int) -> bool:
    try:
        return b"/zygote.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
