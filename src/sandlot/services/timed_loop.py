"""The shape the scheduler and the release driver share: a background loop that does one
round (`run_once`), then sleeps until its next thing is due, bounded by `max_sleep_s` (so
work another server made is noticed), or until `wake()` after a commit here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


class TimedLoop(ABC):
    name = "sandlot-loop"  # the task's name, and how the log names a failed round

    def __init__(self, *, max_sleep_s: float) -> None:
        self.max_sleep_s = max_sleep_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_once(self, now: datetime | None = None) -> Any:
        """One round at `now` (default: the clock); tests pass explicit times."""

    @abstractmethod
    async def next_due(self) -> datetime | None:
        """When the next round has something to do (None: nothing is waiting)."""

    def wake(self) -> None:
        """After a commit that made something due sooner."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def seconds_to_next(self, now: datetime | None = None) -> float:
        due = await self.next_due()
        if due is None:
            return self.max_sleep_s
        wait = (due - (now or datetime.now(UTC))).total_seconds()
        return min(max(wait, 0.0), self.max_sleep_s)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
                wait = await self.seconds_to_next()
            except Exception:  # a database away for a moment must not end the loop
                log.exception("%s: a round failed; trying again", self.name)
                wait = self.max_sleep_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
