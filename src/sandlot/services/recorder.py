"""Writing invocation records in batches, off the invoke path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.models import Invocation
from sandlot.storage.invocations import InvocationRepo

log = logging.getLogger(__name__)

Record = tuple[Invocation, str | None, str]  # the record, its result as JSON text, its logs


class InvocationRecorder:
    """Buffers finished invocations and writes them in one transaction per batch.

    `run_once()` writes everything buffered so far; the background loop calls it every
    `interval_s`, and readers call it before a query so they see their own invocations.
    A batch that fails to write stays buffered and is retried, so nothing finished is lost
    while the process lives.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval_s: float,
        batch_size: int,
        max_buffered: int = 100_000,
    ) -> None:
        self.sessions = sessions
        self.interval_s = interval_s
        self.batch_size = batch_size
        self._pending: deque[Record] = deque(maxlen=max_buffered)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def submit(self, record: Record) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def run_once(self) -> int:
        written = 0
        async with self._lock:
            while self._pending:
                batch = [
                    self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))
                ]
                try:
                    async with self.sessions.begin() as session:
                        await InvocationRepo(session).add_many(batch)
                except Exception:
                    self._pending.extendleft(reversed(batch))
                    raise
                written += len(batch)
        return written

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="invocation-recorder")

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("writing invocation records failed; will retry")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.run_once()
