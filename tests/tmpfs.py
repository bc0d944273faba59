"""A small tmpfs that a test mounts itself (as root), to fill a disk for real."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import skip_outside_ci


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` (e.g. "4m") at `where`; unmounted when the block ends."""
    if os.geteuid() != 0:
        skip_outside_ci("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        # Lazy: a process of the test may still hold a file there for a moment.
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> int:
    """Write to `path` until the disk is full; returns how many bytes fitted."""
    written = 0
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as handle:
        while True:
            try:
                written += handle.write(chunk)
            except OSError:
                break
    while True:  # the last few bytes, in smaller pieces
        try:
            with path.open("ab", buffering=0) as handle:
                written += handle.write(b"\0" * 512)
        except OSError:
            return written
