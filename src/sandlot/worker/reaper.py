"""The keep-alive reaper: a background loop that stops instances idle for too long."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Reapable(Protocol):
    async def reap_idle(self) -> int: ...


class KeepAliveReaper:
    """Calls `pool.reap_idle()` every `interval_s`; tests drive it with `run_once()`."""

    def __init__(self, pool: Reapable, interval_s: float) -> None:
        self._pool = pool
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Stop every instance idle past its keep-alive; returns how many were stopped."""
        return await self._pool.reap_idle()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="sandlot-keep-alive-reaper")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except Exception:  # one bad round must not end the loop for good
                log.exception("keep-alive reaper round failed")
