"""`Spares`: resources made ahead of need, off the event loop, and handed out at once.

A sandboxed start needs things that are slow or blocking to make but carry no state of the
process that will use them: a cgroup with its limits written (mkdir and a few writes per
controller, ~0.3 ms of blocking file I/O on v1) and a group's network namespace (a helper
process, tens of ms). Making them on the start's path costs latency, and on the event loop
it also stalls every other request. So a few of each are kept ready per key (the limits of a
cgroup; one key for namespaces), made in a worker thread, and a `take()` only pops one and
asks for a refill. A spare is never handed out twice and never reused after its process:
whatever a cgroup counted (peak memory, OOM kills) belongs to the one process that had it.

Only the most recently used keys keep spares (functions differ in memory size), so an idle
key's spares are freed rather than left to pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Spares(Generic[K, T]):
    """Up to `depth` ready items for each of the `max_keys` most recently used keys.

    `make(key)` runs in a worker thread and may block; `discard(item)` frees an item that
    will not be handed out (at close, or when its key falls out of use) and must not raise.
    """

    def __init__(
        self,
        make: Callable[[K], T],
        discard: Callable[[T], None],
        *,
        depth: int,
        max_keys: int = 8,
    ) -> None:
        self._make = make
        self._discard = discard
        self._depth = depth
        self._max_keys = max_keys
        self._ready: OrderedDict[K, list[T]] = OrderedDict()
        self._refills: dict[K, asyncio.Task[None]] = {}
        self._closed = False

    def ready(self, key: K) -> int:
        return len(self._ready.get(key, ()))

    def items(self) -> list[T]:
        """Every ready spare (for inspection: they belong to no process yet)."""
        return [item for items in self._ready.values() for item in items]

    def take(self, key: K) -> T | None:
        """A ready item for `key`, or None; either way a refill for `key` is under way."""
        if self._closed:
            return None
        items = self._ready.setdefault(key, [])
        self._ready.move_to_end(key)
        self._forget_old_keys()
        self.refill(key)
        return items.pop() if items else None

    async def get(self, key: K) -> T:
        """A ready item, or one made now (in a thread) when none is ready."""
        item = self.take(key)
        if item is not None:
            return item
        return await asyncio.to_thread(self._make, key)

    def refill(self, key: K) -> None:
        running = self._refills.get(key)
        if self._closed or (running is not None and not running.done()):
            return
        self._refills[key] = asyncio.ensure_future(self._refill(key))

    async def _refill(self, key: K) -> None:
        try:
            while not self._closed and key in self._ready:
                missing = self._depth - len(self._ready[key])
                if missing <= 0:
                    return
                made = await asyncio.to_thread(self._make_many, key, missing)
                if self._closed or key not in self._ready:
                    for item in made:
                        self._discard(item)
                    return
                self._ready[key].extend(made)
                if len(made) < missing:
                    return  # making failed part-way; the next take() tries again
        finally:
            if self._refills.get(key) is asyncio.current_task():
                del self._refills[key]

    def _make_many(self, key: K, count: int) -> list[T]:
        made: list[T] = []
        try:
            for _ in range(count):
                made.append(self._make(key))
        except Exception:  # a start that finds no spare makes its own, and says why
            log.warning("could not make a spare for %r", key, exc_info=True)
        return made

    def _forget_old_keys(self) -> None:
        while len(self._ready) > self._max_keys:
            _key, items = self._ready.popitem(last=False)
            for item in items:
                self._discard(item)

    async def close(self) -> None:
        """Stop refilling and free every spare. Idempotent."""
        self._closed = True
        refills = list(self._refills.values())
        for task in refills:
            with contextlib.suppress(Exception):
                await task
        for items in self._ready.values():
            for item in items:
                self._discard(item)
        self._ready.clear()
