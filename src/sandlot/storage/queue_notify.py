"""PostgreSQL's LISTEN/NOTIFY for the queue: one server's accept wakes every server's claimer.

One asyncpg connection of its own per server (a pooled one would be handed to requests):
it LISTENs, and sends the NOTIFYs, at most one at a time; notifies asked for while one is
being sent become one more (coalesced). A lost connection is opened again by `check()`,
which the runner's loop calls every round; meanwhile its poll finds the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "sandlot_queue"


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class QueueChannel:
    def __init__(self, url: str, on_notify: Callable[[], None]) -> None:
        self._dsn = _dsn(url)
        self._on_notify = on_notify
        self._connection: Any = None
        self._sending: asyncio.Task[None] | None = None
        self._again = False
        self._closed = False

    async def start(self) -> None:
        await self.check()

    async def check(self) -> None:
        """Connect and LISTEN if not connected (at start, and after a lost connection)."""
        if self._closed or (self._connection is not None and not self._connection.is_closed()):
            return
        try:
            connection = await asyncpg.connect(self._dsn)
            await connection.add_listener(CHANNEL, self._heard)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("queue: LISTEN failed (%s); polling meanwhile", exc)
            return
        self._connection = connection
        self._on_notify()  # what was sent while we were not listening is found now

    def _heard(self, *_args: object) -> None:
        self._on_notify()

    def notify(self) -> None:
        """Send one NOTIFY soon; calls while one is on its way coalesce into one more."""
        if self._closed:
            return
        if self._sending is not None and not self._sending.done():
            self._again = True
            return
        self._sending = asyncio.create_task(self._send(), name="queue-notify")

    async def _send(self) -> None:
        while True:
            self._again = False
            connection = self._connection
            if connection is None or connection.is_closed():
                return  # the others' polls find the call
            try:
                await connection.execute(f"NOTIFY {CHANNEL}")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.debug("queue: NOTIFY failed: %s", exc)
                return
            if not self._again:
                return

    async def close(self) -> None:
        self._closed = True
        if self._sending is not None:
            with contextlib.suppress(Exception):
                await self._sending
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
