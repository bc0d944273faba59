"""The one place that recognises a full disk, in the database or in files of the data dir.

SQLite says "database or disk is full" (SQLITE_FULL), PostgreSQL SQLSTATE 53100, a file write
ENOSPC (or EDQUOT, over a quota). Each becomes `InsufficientStorage`, so that the API answers
507 with a name instead of a 500, without knowing SQL or errno.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from sandlot.domain.errors import InsufficientStorage

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13
_POSTGRES_DISK_FULL = "53100"


def full_disk(exc: BaseException) -> InsufficientStorage | None:
    """`InsufficientStorage` if `exc` (or what it wraps) says the disk is full, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, InsufficientStorage):
            return current
        problem = _named(current)
        if problem is not None:
            return InsufficientStorage(problem)
        current = getattr(current, "orig", None) or current.__cause__
    return None


def _named(exc: BaseException) -> str | None:
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"no space left on the disk{where}: {os.strerror(exc.errno)}"
    if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
        return "the database's disk is full (SQLite: database or disk is full)"
    if getattr(exc, "sqlstate", None) == _POSTGRES_DISK_FULL:
        return f"the database's disk is full (PostgreSQL: {exc})"
    return None


@contextmanager
def full_disk_named() -> Iterator[None]:
    """Around file writes: a full disk leaves as `InsufficientStorage`."""
    try:
        yield
    except OSError as exc:
        named = full_disk(exc)
        if named is None:
            raise
        raise named from exc


def name_full_disk_errors(engine: AsyncEngine) -> None:
    """Make the engine raise `InsufficientStorage` where the database reports a full disk,
    on any statement or commit of any session."""

    def on_error(context: ExceptionContext) -> None:
        named = full_disk(context.original_exception)
        if named is not None:
            raise named from context.original_exception

    event.listen(engine.sync_engine, "handle_error", on_error)


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system that holds `path`."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize
