"""File-system helpers for the store: a cross-process lock and walks kept off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path


class LockWaitTimeout(Exception):
    """Waiting for another holder of a file lock took longer than allowed."""


@contextlib.asynccontextmanager
async def file_lock(
    path: Path, timeout_s: float, *, on_wait: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """Hold an exclusive flock on `path`, polling so that waiting stays cancellable.

    A blocking flock in a thread could not be cancelled, and a cancelled waiter would
    later take the lock and keep it. The kernel drops the lock if the holder dies, so a
    crashed build never blocks the next one.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        acquired = try_flock(fd)
        if not acquired and on_wait is not None:
            on_wait()
        while not acquired:
            if time.monotonic() > deadline:
                raise LockWaitTimeout(f"waited {timeout_s:g}s for {path}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
            acquired = try_flock(fd)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def try_flock(fd: int, *, shared: bool = False) -> bool:
    """Take the lock without waiting; False if someone else holds it (exclusively)."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def tree_size(path: Path) -> int:
    """Bytes of regular files under `path`, not following symlinks; blocking."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(os.path.join(dirpath, name))
                total += st.st_size
    return total


def remove_tree_sync(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


async def remove_tree(path: Path) -> None:
    await asyncio.to_thread(remove_tree_sync, path)
