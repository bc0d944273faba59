"""When each API key was last used, written in batches: the invoke path notes a key's use in
memory (a dict write) and the authenticator's upkeep loop writes what changed, at most once a
minute per key, so that a warm invocation still reads and writes no database."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.storage.credentials import record_key_use

log = logging.getLogger(__name__)

# A key's last use is precise to about this much: a listing needs no better.
RESOLUTION_S = 60.0


class KeyUsage:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._pending: dict[str, datetime] = {}
        self._noted: dict[str, float] = {}  # key id -> monotonic time of the last note

    def seen(self, key_id: str) -> None:
        now = time.monotonic()
        last = self._noted.get(key_id)
        if last is not None and now - last < RESOLUTION_S:
            return
        if len(self._noted) > 100_000:
            self._noted.clear()  # bounded; forgetting only costs an early write
        self._noted[key_id] = now
        self._pending[key_id] = datetime.now(UTC)

    async def run_once(self) -> int:
        """Write the uses noted since the last run; returns how many keys."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            async with self._sessions.begin() as session:
                await record_key_use(session, pending)
        except Exception:
            log.exception("could not record the last use of %d API keys", len(pending))
        return len(pending)
