"""The workers as an API server knows them: the registry's rows, read every heartbeat
interval into memory, so that routing a call never reads the database.

A row is at most one interval older here than in the database, and the database's at most
one interval older than the worker; a worker that stops heartbeating drops out of `live`
after `stale_after_s` (`domain.cluster.live_workers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from sandlot.domain.cluster import WorkerInfo, live_workers
from sandlot.storage.db import Database
from sandlot.storage.workers import WorkerRepo

log = logging.getLogger(__name__)


class Registry:
    def __init__(self, *, database: Database, interval_s: float, stale_after_s: float) -> None:
        self.database = database
        self.interval_s = interval_s
        self.stale_after_s = stale_after_s
        self._rows: list[WorkerInfo] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def rows(self) -> list[WorkerInfo]:
        """Every registered worker as of the last read (stale and draining ones too)."""
        return self._rows

    def live(self, now: datetime | None = None) -> list[WorkerInfo]:
        """The workers a call may go to at `now` (default: the clock)."""
        return live_workers(self._rows, now or datetime.now(UTC), self.stale_after_s)

    async def refresh(self) -> list[WorkerInfo]:
        """Read the rows now (the loop's round; tests call it to skip the wait)."""
        async with self.database.sessions() as session:
            self._rows = await WorkerRepo(session).all()
        return self._rows

    async def start(self) -> None:
        """The first read before the loop, so an API server routes from its first call;
        a database away at start is the loop's to retry, not a failed start."""
        try:
            await self.refresh()
        except Exception:
            log.warning("reading the workers' registry failed; trying again", exc_info=True)
        self._task = asyncio.create_task(self._loop(), name="sandlot-registry")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh()
            except Exception:  # keep the last rows: they go stale by themselves
                log.warning("reading the workers' registry failed; trying again", exc_info=True)
