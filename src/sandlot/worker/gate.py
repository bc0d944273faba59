"""Waiting for a bounded time: a per-function concurrency gate and a capacity signal.

Both use futures and one timer per waiter instead of `asyncio.wait_for`, so a slot handed
to a waiter at the same moment its time runs out is never lost.
"""

from __future__ import annotations

import asyncio
from collections import deque


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def _handed_over(waiter: asyncio.Future[bool]) -> bool:
    if not waiter.done() or waiter.cancelled() or waiter.exception() is not None:
        return False
    return waiter.result()


class ConcurrencyGate:
    """At most `limit` holders at a time; the others wait in arrival order."""

    def __init__(self) -> None:
        self.active = 0
        self._waiters: deque[asyncio.Future[bool]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    async def acquire(self, limit: int, timeout_s: float) -> bool:
        """Take a slot, waiting up to `timeout_s`; False if none came free in time."""
        if self.active < limit and not self.waiting:
            self.active += 1
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(max(timeout_s, 0.0), _expire, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # The slot may have been handed over just before the caller was cancelled.
            if _handed_over(waiter):
                self.release()
            raise
        finally:
            timer.cancel()

    def release(self) -> None:
        """Give the slot to the first live waiter (the count stays), or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self.active -= 1

    def fail_waiters(self, error: BaseException) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)


class CapacitySignal:
    """Wakes everyone waiting for room in the pool whenever room may have appeared."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[bool]] = set()

    async def wait(self, timeout_s: float) -> bool:
        """True when notified, False when `timeout_s` passed first."""
        if timeout_s <= 0:
            return False
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.add(waiter)
        timer = loop.call_later(timeout_s, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiters.discard(waiter)

    def notify_all(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(True)

    def fail_waiters(self, error: BaseException) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(error)
