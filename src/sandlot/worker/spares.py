"""`SpareInstances`: one instance forked ahead of need per version with recent traffic.

A cold start from a running zygote spends its time on work that needs no call to be known:
the fork, the child's own layers (private /tmp, Landlock, seccomp), its cgroup (on cgroup v1
a write to `cgroup.procs` can wait for an RCU grace period: milliseconds, unpredictably) and
the init exchange. After a version's cold start the launcher forks the next instance at once,
fully sandboxed and initialised but with no call; the next cold start of that version takes
it, and forks the one after. A start that finds the spare still being made waits for it
rather than forking a second child that would compete with it for the cores.

A spare is an ordinary instance in every respect but one: until it is taken it belongs to no
call. It is charged against the worker's `Capacity` like any instance (a version gets none
when there is no room), and the charge passes to the call that takes it. It is stopped with
its zygote (on retire, delete, the reaper's keep-alive round and close), and it is the first
thing evicted when a cold start needs room.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sandlot.worker.capacity import Capacity
from sandlot.worker.instance import Instance
from sandlot.worker.interface import VersionSpec

_Key = tuple[str, int]


class SpareInstances:
    def __init__(
        self, make: Callable[[VersionSpec], Awaitable[Instance]], capacity: Capacity
    ) -> None:
        self._make = make
        self._capacity = capacity
        # Oldest first; each task's spec is kept for its refund.
        self._spares: dict[_Key, tuple[VersionSpec, asyncio.Task[Instance]]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    def __contains__(self, key: _Key) -> bool:
        return key in self._spares

    def refill(self, spec: VersionSpec) -> None:
        """Start making the version's spare, unless it has one (ready or on the way) or the
        worker has no room for it."""
        if self._closed or spec.key in self._spares or not self._capacity.fits(spec.memory_mb):
            return
        self._capacity.charge(spec.memory_mb)
        task = asyncio.ensure_future(self._make(spec))
        task.add_done_callback(_retrieve)
        self._spares[spec.key] = (spec, task)

    async def take(self, key: _Key) -> Instance | None:
        """The version's spare once it is ready, or None (none, or it failed or died). Its
        charge ends here: the caller charged the instance for its call already."""
        entry = self._pop(key)
        if entry is None:
            return None
        spec, task = entry
        try:
            instance = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done() or self._closed or key in self._spares:
                self._stop(task)
            else:  # our caller gave up; the spare stays for the next, charged again
                self._capacity.charge(spec.memory_mb)
                self._spares[key] = entry
            raise
        except Exception:  # the start that wanted it forks its own instead
            return None
        if not instance.alive:
            self._stop(task)
            return None
        return instance

    def discard(self, key: _Key) -> bool:
        """Stop the version's spare; False if it had none."""
        entry = self._pop(key)
        if entry is not None:
            self._stop(entry[1])
        return entry is not None

    def evict_oldest(self, keep: _Key | None) -> bool:
        """Stop the oldest spare that is not `keep`'s, to make room; False if none."""
        for key in self._spares:
            if key != keep:
                return self.discard(key)
        return False

    def _pop(self, key: _Key) -> tuple[VersionSpec, asyncio.Task[Instance]] | None:
        entry = self._spares.pop(key, None)
        if entry is not None:
            self._capacity.refund(entry[0].memory_mb)
        return entry

    def _stop(self, task: asyncio.Task[Instance]) -> None:
        closing = asyncio.ensure_future(_close(task))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        self._closed = True
        for key in list(self._spares):
            self.discard(key)
        while self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


async def _close(task: asyncio.Task[Instance]) -> None:
    task.cancel()  # a spare still being made cleans up after itself when cancelled
    with contextlib.suppress(BaseException):
        instance = await task
        await instance.close()


def _retrieve(task: asyncio.Task[Instance]) -> None:
    # A failed spare is not an error of any call; its exception is read here so that asyncio
    # does not report it as never retrieved.
    if not task.cancelled():
        task.exception()
