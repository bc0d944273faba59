"""What happens when what a function's callers reach changes (a new latest version, an
alias moved): the versions nothing pins any more retire (their zygotes and idle instances
stop; calls in flight on them finish) and `min_warm` instances of the latest one start.
Before an alias moves, `make_ready` starts what its new versions need, so that the move
costs no caller a cold start.

Retiring runs after the deploy, build or move committed, in the background: a deploy never
waits for instances to start, and a failure here only delays warm starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from sandlot.domain.errors import SandlotError
from sandlot.domain.models import Function
from sandlot.services import pins
from sandlot.services.catalog import Catalog
from sandlot.storage.db import Database
from sandlot.storage.functions import VersionRepo
from sandlot.worker.interface import Pool

log = logging.getLogger(__name__)

# How long a version made ready for a move stays held without being pinned: the move that
# asked for it commits within moments. It covers a retirement that read the pins just
# before that commit, which would otherwise stop what was made ready for it.
RESERVED_S = 60.0


class Activator:
    def __init__(self, *, database: Database, catalog: Catalog, pool: Pool) -> None:
        self.database = database
        self.catalog = catalog
        self.pool = pool
        self._tasks: set[asyncio.Task[None]] = set()
        # Per function: retirements and preparations one at a time, never interleaved.
        self._locks: dict[str, asyncio.Lock] = {}
        # Per function: versions made ready for a move, and until when they are held.
        self._reserved: dict[str, dict[int, float]] = {}

    def version_ready(self, function: Function) -> None:
        """Call once a new latest version committed; returns at once."""
        self.catalog.invalidate_function(function)
        task = asyncio.create_task(self.activate(function), name=f"activate-{function.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def activate(self, function: Function) -> None:
        try:
            await self.retire_unpinned(function)
            spec = await self.catalog.latest_of(function)
            if spec.min_warm:
                await self.pool.ensure_warm(spec)
        except SandlotError as exc:
            log.info("activating %s: %s", function.name, exc.message)
        except Exception:
            log.exception("activating %s failed", function.name)

    async def retire_unpinned(self, function: Function) -> None:
        """Retire what the pool holds of the function's versions that nothing pins
        (`services.pins`), nor a move under way has just made ready."""
        async with self._lock(function.id):
            async with self.database.sessions() as session:
                keep = await pins.kept_versions(session, function)
            await self.pool.retain(function.id, keep | self._held(function.id))

    async def make_ready(self, function: Function, versions: Iterable[int]) -> None:
        """Before traffic moves onto `versions` (an alias set, a rollback, a release step):
        their zygotes and `min_warm` instances are up, so no caller waits on a cold start
        the move caused. Raises the resolve's error (`VersionNotReady`) for a version that
        cannot serve. Each version is held for `RESERVED_S` even if nothing pins it yet."""
        wanted = sorted(set(versions))
        specs = [await self.catalog.version_of(function, number) for number in wanted]
        async with self._lock(function.id):
            held = self._reserved.setdefault(function.id, {})
            for spec in specs:
                held[spec.version] = time.monotonic() + RESERVED_S
                await self.pool.prepare(spec)
                if spec.min_warm:
                    await self.pool.ensure_warm(spec)

    def _lock(self, function_id: str) -> asyncio.Lock:
        return self._locks.setdefault(function_id, asyncio.Lock())

    def _held(self, function_id: str) -> set[int]:
        now = time.monotonic()
        held = self._reserved.get(function_id, {})
        for number in [number for number, until in held.items() if until <= now]:
            del held[number]
        if not held:
            self._reserved.pop(function_id, None)
        return set(held)

    def routes_changed(self, function: Function) -> None:
        """Call once an alias move committed: callers see it at once; versions that nothing
        points at any more retire in the background (their calls in flight finish first)."""
        self.catalog.invalidate_function(function)
        task = asyncio.create_task(self.activate(function), name=f"reroute-{function.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def warm_all(self) -> None:
        """On start: bring every function that asks for warm instances up to its number."""
        async with self.database.sessions() as session:
            functions = await VersionRepo(session).kept_warm()
        for function in functions:
            await self.activate(function)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
