"""A worker's heartbeat: its row in the registry, every `heartbeat_interval_s`.

Each beat writes what the API servers route by (free memory, warm and ready versions,
whether it drains) and reads back whether an operator asked it to drain. The same loop looks
after the workers that stopped beating: the asynchronous calls leased to one silent past
`worker_stale_s` go back to the queue at once (their lease may be minutes long), and a row
silent past `PRUNE_AFTER_S` is deleted. Every worker does this; the queue's fencing makes
two of them doing it at once harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sandlot import __version__
from sandlot.domain.cluster import WarmVersion, WorkerInfo
from sandlot.services.async_reaper import Reaper
from sandlot.services.worker_node import WorkerNode
from sandlot.storage.db import Database
from sandlot.storage.workers import WorkerRepo

log = logging.getLogger(__name__)

PRUNE_AFTER_S = 300.0


def worker_info(node: WorkerNode, now: datetime) -> WorkerInfo:
    """What this worker says of itself now."""
    stats = node.pool.stats()
    warm = tuple(
        WarmVersion(
            function_id=held.function_id,
            version=held.version,
            idle=max(0, held.instances - held.busy),
            instances=held.instances,
            busy=held.busy,
        )
        for held in stats.versions
        if held.instances
    )
    return WorkerInfo(
        id=node.worker_id,
        url=node.url,
        hostname=socket.gethostname(),
        package_version=__version__,
        started_at=node.started_at,
        heartbeat_at=now,
        draining=node.draining,
        free_mb=max(0, stats.max_memory_mb - stats.charged_mb),
        max_memory_mb=stats.max_memory_mb,
        # Against max_instances, as the pool counts them (spares too).
        instances=stats.charged_instances,
        busy=stats.busy,
        max_instances=stats.max_instances,
        cpus=node.cpus,
        warm=warm,
        ready=frozenset(node.ready),
    )


class Heartbeat:
    def __init__(
        self,
        *,
        database: Database,
        node: WorkerNode,
        reaper: Reaper,
        interval_s: float,
        stale_s: float,
        on_drain: Callable[[], object],
    ) -> None:
        self.database = database
        self.node = node
        self.reaper = reaper
        self.interval_s = interval_s
        self.stale_s = stale_s
        self.on_drain = on_drain
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def beat(self, now: datetime | None = None) -> bool:
        """Write this worker's row; True when an operator asked it to drain (then it has
        started draining)."""
        moment = now or datetime.now(UTC)
        async with self.database.sessions.begin() as session:
            requested = await WorkerRepo(session).heartbeat(worker_info(self.node, moment))
        if requested and not self.node.draining:
            log.info("an operator asked this worker to drain")
            self.on_drain()
        return requested

    async def look_after_silent(self, now: datetime | None = None) -> int:
        """Re-queue the calls of workers silent past `stale_s`; delete rows silent past
        `PRUNE_AFTER_S`. Returns how many calls went back to the queue."""
        moment = now or datetime.now(UTC)
        async with self.database.sessions() as session:
            silent = await WorkerRepo(session).silent_since(
                moment - timedelta(seconds=self.stale_s)
            )
        requeued = 0
        prune_before = moment - timedelta(seconds=PRUNE_AFTER_S)
        for worker in silent:
            if worker.id == self.node.worker_id:
                continue  # our own row, late because this process stalled: not lost
            count = await self.reaper.worker_lost(worker.id)
            if count:
                log.warning("worker %s is silent: %d of its calls queued again", worker.id, count)
            requeued += count
            if worker.heartbeat_at is not None and worker.heartbeat_at < prune_before:
                async with self.database.sessions.begin() as session:
                    await WorkerRepo(session).remove(worker.id)
                log.info("worker %s removed from the registry (silent for 5 minutes)", worker.id)
        return requeued

    async def run_once(self, now: datetime | None = None) -> None:
        await self.beat(now)
        await self.look_after_silent(now)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="worker-heartbeat")

    def wake(self) -> None:
        """Beat now (draining started: the API servers should know within this beat)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # PostgreSQL away for a moment: the next beat tries again
                log.exception("a heartbeat failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()

    async def close(self, *, remove: bool = True) -> None:
        """Stop beating; with `remove`, delete this worker's row (a clean exit)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if remove:
            async with self.database.sessions.begin() as session:
                await WorkerRepo(session).remove(self.node.worker_id)
