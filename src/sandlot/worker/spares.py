"""`SpareInstances`: instances forked ahead of need for versions with recent traffic.

A cold start from a running zygote spends its time on work that needs no call to be known:
the fork, the child's own layers (private /tmp, Landlock, seccomp), its cgroup (on cgroup v1
a write to `cgroup.procs` can wait for an RCU grace period: milliseconds, unpredictably) and
the init exchange. After a version's cold start the launcher forks the next instance at once,
fully sandboxed and initialised but with no call; the next cold start of that version takes
it, and forks the one after. A start that finds the spare still being made waits for it
rather than forking a second child that would compete with it for the cores.

How many: one per version at first. A start that has to wait for its spare shows that cold
starts come faster than one spare is made (about 2 ms of fork, cgroup and init), so that
version keeps one more, up to `depth`: making spares then overlaps with the calls instead of
following them.

A spare is an ordinary instance in every respect but one: until it is taken it belongs to no
call. It is charged against the worker's `Capacity` like any instance (a version gets none
when there is no room), and the charge passes to the call that takes it. It is stopped with
its zygote (on retire, delete, the reaper's keep-alive round and close), and spares are the
first thing evicted when a cold start needs room.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sandlot.worker.capacity import Capacity
from sandlot.worker.instance import Instance
from sandlot.worker.interface import VersionSpec

_Key = tuple[str, int]


@dataclass(eq=False)
class _Spare:
    spec: VersionSpec  # for its refund
    task: asyncio.Task[Instance]


class SpareInstances:
    def __init__(
        self,
        make: Callable[[VersionSpec], Awaitable[Instance]],
        capacity: Capacity,
        depth: int,
    ) -> None:
        self._make = make
        self._capacity = capacity
        self._max_depth = depth
        self._spares: dict[_Key, list[_Spare]] = {}  # per version, oldest first
        self._depth: dict[_Key, int] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    def __contains__(self, key: _Key) -> bool:
        return bool(self._spares.get(key))

    def refill(self, spec: VersionSpec) -> None:
        """Start making the version's spares, up to its depth, while the worker has room."""
        if self._closed or self._max_depth < 1:
            return
        spares = self._spares.setdefault(spec.key, [])
        while len(spares) < self._depth.setdefault(spec.key, 1):
            if not self._capacity.fits(spec.memory_mb):
                return
            self._capacity.charge(spec.memory_mb)
            task = asyncio.ensure_future(self._make(spec))
            task.add_done_callback(_retrieve)
            spares.append(_Spare(spec, task))

    async def take(self, key: _Key) -> Instance | None:
        """The version's oldest spare once it is ready, or None (none, or it failed or died).
        Its charge ends here: the caller charged the instance for its call already."""
        spares = self._spares.get(key)
        if not spares:
            return None
        spare = spares.pop(0)
        self._capacity.refund(spare.spec.memory_mb)
        if not spare.task.done():  # cold starts outpace the spares: keep one more
            self._depth[key] = min(self._max_depth, self._depth.get(key, 1) + 1)
        try:
            instance = await asyncio.shield(spare.task)
        except asyncio.CancelledError:
            if spare.task.done() or self._closed or key not in self._spares:
                self._stop(spare.task)
            else:  # our caller gave up; the spare stays for the next, charged again
                self._capacity.charge(spare.spec.memory_mb)
                self._spares[key].insert(0, spare)
            raise
        except Exception:  # the start that wanted it forks its own instead
            return None
        if not instance.alive:
            self._stop(spare.task)
            return None
        return instance

    def counts(self) -> dict[_Key, tuple[VersionSpec, int]]:
        """Each version's spares, made or being made: for inspection."""
        return {key: (made[0].spec, len(made)) for key, made in self._spares.items() if made}

    def discard(self, key: _Key) -> bool:
        """Stop every spare of the version; False if it had none."""
        self._depth.pop(key, None)
        spares = self._spares.pop(key, [])
        for spare in spares:
            self._capacity.refund(spare.spec.memory_mb)
            self._stop(spare.task)
        return bool(spares)

    def evict_oldest(self, keep: _Key | None) -> bool:
        """Stop the newest spare of the version whose spares are oldest, not `keep`'s, to
        make room; False if there is none."""
        for key, spares in self._spares.items():
            if key != keep and spares:
                spare = spares.pop()
                self._capacity.refund(spare.spec.memory_mb)
                self._stop(spare.task)
                return True
        return False

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
