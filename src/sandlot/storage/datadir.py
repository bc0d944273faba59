"""The data dir: held by one server at a time, readable by its owner only.

A server takes an exclusive `flock` on `<data dir>/server.pid` before it writes anything there
(migrations, the sandbox's run dir, cgroup sweeps), keeps it while it runs, and writes its pid
into the file so that a second server can say who holds it. `flock` rather than a pid file
alone: the kernel drops the lock when its holder dies, kill -9 included, so a crash never
leaves the data dir locked and a stale pid is never mistaken for a live server.

The data dir holds env values, results, logs and the admin key, so it is made 0700; function
code and environments inside it stay readable by the sandbox's uids, because the sandbox
mounts each of those directories on a fresh root where the data dir's own mode plays no part.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from sandlot.domain.errors import DataDirInUse

LOCK_FILE = "server.pid"
DATA_DIR_MODE = 0o700


class DataDirLock:
    """An exclusive hold on one data dir, until `release()` or the process's end."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Take the data dir, or raise `DataDirInUse` naming the holder's pid.

        Only the directory and the lock file are created before the lock is held: a refused
        caller changes nothing else (not even the directory's mode).
        """
        data_dir.mkdir(parents=True, exist_ok=True, mode=DATA_DIR_MODE)
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise DataDirInUse(
                f"the data dir {data_dir.resolve()} is in use by another Sandlot server "
                f"({who}); stop it first, or give this one another data dir",
                data_dir=str(data_dir.resolve()),
                pid=holder,
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.chmod(data_dir, DATA_DIR_MODE)
        return cls(data_dir, fd)

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def release(self) -> None:
        """Give the data dir up (idempotent); the pid goes first, so none is left behind."""
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = -1


def _holder_pid(fd: int) -> int | None:
    """The pid the holder wrote, if it has yet (it writes it right after locking)."""
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
