"""Where an asynchronous call's end goes: a signed webhook, or another function's queue.

The queue's runner calls `on_async_end` inside the transaction that ends a call, so a
delivery is queued exactly when the end is committed: a crash between the two cannot lose
one or send one for an end that never happened.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.models import Invocation


class Destinations:
    async def on_async_end(self, session: AsyncSession, invocation: Invocation) -> None:
        """`invocation` has just ended for good (succeeded, or dead after its last attempt):
        queue its destinations' deliveries in `session` (flush, never commit)."""
        return None
