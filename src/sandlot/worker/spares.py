"""`SpareInstances`: one instance forked ahead of need per version with recent traffic.

A cold start from a running zygote spends its time on work that needs no call to be known:
the fork, the child's own layers (private /tmp, Landlock, seccomp), its cgroup (on cgroup v1
a write to `cgroup.procs` can wait for an RCU grace period: milliseconds, unpredictably) and
the init exchange. After a version's cold start the launcher forks the next instance at once,
fully sandboxed and initialised but with no call; the next cold start of that version takes
it, and forks the one after. A start that finds the spare still being made waits for it
rather than forking a second child that would compete with it for the cores.

A spare is an ordinary instance in every respect but one: until it is taken it belongs to no
call and is not counted against the pool's instance and memory caps (like the zygote itself,
which it lives and dies with). It is stopped with its zygote: on retire, delete, the
reaper's keep-alive round and close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sandlot.worker.instance import Instance
from sandlot.worker.interface import VersionSpec

_Key = tuple[str, int]


class SpareInstances:
    def __init__(self, make: Callable[[VersionSpec], Awaitable[Instance]]) -> None:
        self._make = make
        self._spares: dict[_Key, asyncio.Task[Instance]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    def __contains__(self, key: _Key) -> bool:
        return key in self._spares

    def refill(self, spec: VersionSpec) -> None:
        """Start making the version's spare, unless it has one (ready or on the way)."""
        if self._closed or spec.key in self._spares:
            return
        task = asyncio.ensure_future(self._make(spec))
        task.add_done_callback(_retrieve)
        self._spares[spec.key] = task

    async def take(self, key: _Key) -> Instance | None:
        """The version's spare once it is ready, or None (none, or it failed or died)."""
        task = self._spares.pop(key, None)
        if task is None:
            return None
        try:
            instance = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done() or self._closed or key in self._spares:
                self._stop(task)
            else:
                self._spares[key] = task  # our caller gave up; the spare stays for the next
            raise
        except Exception:  # the start that wanted it forks its own instead
            return None
        if not instance.alive:
            self._stop(task)
            return None
        return instance

    def discard(self, key: _Key) -> None:
        task = self._spares.pop(key, None)
        if task is not None:
            self._stop(task)

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
