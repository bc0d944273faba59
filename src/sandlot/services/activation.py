"""What happens when a version becomes a function's latest: older versions retire (their
zygotes and idle instances stop) and `min_warm` instances of the new one start.

This runs after the deploy or build committed, in the background: a deploy never waits for
instances to start, and a failure here only delays warm starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from sandlot.domain.errors import SandlotError
from sandlot.domain.models import Function
from sandlot.services.catalog import Catalog
from sandlot.storage.db import Database
from sandlot.storage.functions import VersionRepo
from sandlot.worker.interface import Pool

log = logging.getLogger(__name__)


class Activator:
    def __init__(self, *, database: Database, catalog: Catalog, pool: Pool) -> None:
        self.database = database
        self.catalog = catalog
        self.pool = pool
        self._tasks: set[asyncio.Task[None]] = set()

    def version_ready(self, function: Function) -> None:
        """Call once a new latest version committed; returns at once."""
        self.catalog.invalidate_function(function)
        task = asyncio.create_task(self.activate(function), name=f"activate-{function.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def activate(self, function: Function) -> None:
        try:
            spec = await self.catalog.latest_of(function)
            await self.pool.supersede(function.id, spec.version)
            if spec.min_warm:
                await self.pool.ensure_warm(spec)
        except SandlotError as exc:
            log.info("activating %s: %s", function.name, exc.message)
        except Exception:
            log.exception("activating %s failed", function.name)

    async def make_ready(self, function: Function, versions: Iterable[int]) -> None:
        """Before traffic moves onto `versions` (an alias set, a rollback, a release step):
        their zygotes and `min_warm` instances are up, so no caller waits on a cold start
        the move caused. Raises the resolve's error (`VersionNotReady`) for a version that
        cannot serve. (The releases work refines this: see services.pins.)"""
        for number in versions:
            spec = await self.catalog.version_of(function, number)
            await self.pool.prepare(spec)
            if spec.min_warm:
                await self.pool.ensure_warm(spec)

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
