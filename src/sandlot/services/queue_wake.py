"""Waking the claimers of queued calls when one is accepted, without a poll's delay.

In one process an asyncio event is enough; many notifies before the claimer looks coalesce
into one wake-up. Across processes (PostgreSQL) `notify()` also tells the other servers
(`remote`, a PostgreSQL NOTIFY that storage.queue_notify sends, itself coalesced), whose
LISTEN wakes their claimer; each keeps a poll as the fallback for a notification lost with a
dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class QueueWaker:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.remote: Callable[[], None] | None = None

    def notify(self) -> None:
        """Called after the commit that queued a call (or made one due again)."""
        self._event.set()
        if self.remote is not None:
            self.remote()

    def wake(self) -> None:
        """Wake this process's claimer only (a slot freed, a notification from elsewhere)."""
        self._event.set()

    async def wait(self, timeout_s: float) -> bool:
        """Until notified or `timeout_s` passed; True when notified. Clears the wake-up."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)
        notified = self._event.is_set()
        self._event.clear()
        return notified
