"""A live tail of each function's finished invocations, for subscribers on this server.

`InvocationRecorder.finish()` hands every finished record to `LogTail.publish()`, on the
invoke path: with nobody subscribed to that function it costs one dict lookup. A subscriber
has a bounded queue; one that falls behind (a slow reader) is ended instead of ever making
the invoke path wait or memory grow, and is told so, so that it can resume from the last id
it got. Subscriptions end when the function is deleted or the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from enum import StrEnum

from sandlot.services.journal_entries import Record

__all__ = ["DEFAULT_CAPACITY", "EndReason", "LogTail", "Subscription"]

DEFAULT_CAPACITY = 256  # finished records a subscriber may have waiting


class EndReason(StrEnum):
    TOO_SLOW = "too_slow"  # the subscriber's queue was full: it was dropped
    DELETED = "function_deleted"
    SHUTDOWN = "server_stopping"


class Subscription:
    """One reader's queue of finished records of one function."""

    def __init__(self, tail: LogTail, namespace_id: str, function_id: str, name: str) -> None:
        self.tail = tail
        self.namespace_id = namespace_id
        self.function_id = function_id
        self.name = name
        self.ended: EndReason | None = None
        self._queue: deque[Record] = deque()
        self._wake = asyncio.Event()

    def offer(self, record: Record) -> None:
        """Never blocks: a full queue ends the subscription (what it held is dropped too,
        so that the reader learns at once, not after reading stale records)."""
        if self.ended is not None:
            return
        if len(self._queue) >= self.tail.capacity:
            self._queue.clear()
            self.end(EndReason.TOO_SLOW)
            return
        self._queue.append(record)
        self._wake.set()

    def end(self, reason: EndReason) -> None:
        if self.ended is None:
            self.ended = reason
        self._wake.set()

    async def next(self, timeout_s: float) -> Record | EndReason | None:
        """The next record, or why the subscription ended, or None after `timeout_s`."""
        if not self._queue and self.ended is None:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout_s)
        if self._queue:
            return self._queue.popleft()
        return self.ended

    def close(self) -> None:
        self.tail.remove(self)


class LogTail:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.closed = False
        self._by_function: dict[str, set[Subscription]] = {}

    def publish(self, record: Record) -> None:
        subscribers = self._by_function.get(record[0].function_id)
        if subscribers:
            for subscription in tuple(subscribers):
                subscription.offer(record)

    def subscribe(self, namespace_id: str, function_id: str, name: str) -> Subscription:
        subscription = Subscription(self, namespace_id, function_id, name)
        if self.closed:
            subscription.end(EndReason.SHUTDOWN)
        else:
            self._by_function.setdefault(function_id, set()).add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        subscribers = self._by_function.get(subscription.function_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._by_function[subscription.function_id]

    def end_function(self, namespace_id: str, name: str) -> None:
        """The function was deleted: its subscribers' streams end."""
        for subscribers in tuple(self._by_function.values()):
            for subscription in tuple(subscribers):
                if subscription.namespace_id == namespace_id and subscription.name == name:
                    subscription.end(EndReason.DELETED)

    def close(self) -> None:
        """The server is stopping: every stream ends, so none holds up the shutdown."""
        self.closed = True
        for subscribers in tuple(self._by_function.values()):
            for subscription in tuple(subscribers):
                subscription.end(EndReason.SHUTDOWN)

    def subscribers(self) -> int:
        return sum(len(subscribers) for subscribers in self._by_function.values())
