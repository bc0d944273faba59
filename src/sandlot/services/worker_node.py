"""One worker of a cluster: what its internal API admits, and what it has on its own disk.

A spec comes from an API server by content address (the code's sha256, the environment's
key). `Materializer` turns those into paths here: the code zip read back from the database,
the environment installed from the version's stored lock (exactly that lock, never a new
resolution, never `Builder.rebuild`: the API server's build already decided what it is).
`WorkerNode` admits or refuses a call before anything starts (README "More machines"): a
refusal lets the API server try the next worker, so it must be cheap and come first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sandlot.domain.cluster import VersionKey
from sandlot.domain.errors import EgressUnavailable, InvalidInput, VersionNotReady
from sandlot.envs import EnvironmentStore, Lock
from sandlot.sandbox.cgroups import cpu_capacity
from sandlot.services import cluster_wire as wire
from sandlot.services.code import CodeStore
from sandlot.storage.db import Database
from sandlot.storage.functions import CodeBlobRepo, VersionRepo
from sandlot.worker.interface import (
    NO_CALL_INFO,
    CallInfo,
    InvokeOutcome,
    Prepared,
)
from sandlot.worker.interface import VersionSpec as VersionSpec  # for the internal API
from sandlot.worker.pool import RuntimePool

log = logging.getLogger(__name__)

Paths = tuple[Path, tuple[Path, ...]]  # code dir, site-packages
_SPECS_KEPT = 512  # decoded specs kept (a worker holds a few dozen versions at most)


class Materializer:
    """Code and environments on this machine's disk, made from what the database stores.
    `paths` is the hot path's question (no I/O past a dict and, once, a stat); the others
    may install for minutes and are only ever awaited by a prepare, never by a call."""

    def __init__(self, database: Database, code: CodeStore, envs: EnvironmentStore) -> None:
        self.database = database
        self.code = code
        self.envs = envs
        self._codes: set[str] = set()
        self._envs: dict[str, Path] = {}  # env key (the API server's) -> site-packages here
        self._pending: dict[str, asyncio.Task[Path]] = {}

    def paths(self, code_sha256: str, env_key: str | None) -> Paths | None:
        """Where the version's code and environment are here; None: not (yet) on this disk."""
        if code_sha256 not in self._codes:
            if not code_sha256 or not self.code.has(code_sha256):
                return None
            self._codes.add(code_sha256)
        code_dir = self.code.path(code_sha256)
        if env_key is None:
            return code_dir, ()
        site = self._envs.get(env_key)
        return None if site is None else (code_dir, (site,))

    async def materialize(self, spec: VersionSpec) -> Paths:
        """Put the version's code and environment on this disk (a no-op when they are)."""
        code_dir = await self.restore_code(spec.code_sha256)
        if spec.env_key is None:
            return code_dir, ()
        return code_dir, (await self.environment(spec.function_id, spec.version, spec.env_key),)

    async def restore_code(self, sha256: str) -> Path:
        if not self.code.has(sha256):
            async with self.database.sessions() as session:
                data = await CodeBlobRepo(session).get(sha256)
            await asyncio.to_thread(self.code.restore, data)
        self._codes.add(sha256)
        return self.code.path(sha256).resolve()

    async def environment(self, function_id: str, number: int, env_key: str) -> Path:
        """The environment's site-packages here; concurrent askers share one install."""
        known = self._envs.get(env_key)
        if known is not None:
            return known
        task = self._pending.get(env_key)
        if task is None:
            task = asyncio.ensure_future(self._install(function_id, number, env_key))
            self._pending[env_key] = task
            task.add_done_callback(lambda _t: self._pending.pop(env_key, None))
        return await asyncio.shield(task)

    async def known_environment(self, env_key: str) -> Path | None:
        """The environment's site-packages if it is on this disk (built by an earlier run,
        too), without installing anything."""
        site = self._envs.get(env_key)
        if site is None and env_key not in self._pending:
            found = await self.envs.get(env_key)
            if found is not None:
                site = self._envs[env_key] = found.path
        return site

    def start_environment(self, function_id: str, number: int, env_key: str) -> None:
        """Install in the background (an async call found it missing: it waits in the queue,
        not in a claimer's round)."""
        if env_key in self._envs or env_key in self._pending:
            return
        task = asyncio.ensure_future(self.environment(function_id, number, env_key))
        task.add_done_callback(_log_failure)

    async def _install(self, function_id: str, number: int, env_key: str) -> Path:
        found = await self.envs.get(env_key)  # built here before (the same Python target)
        if found is None:
            async with self.database.sessions() as session:
                lock_text = await VersionRepo(session).lock_text(function_id, number)
            if lock_text is None:
                raise VersionNotReady(
                    f"version {number} has no stored lock to install its environment from",
                    version=number,
                )
            found = await self.envs.ensure(Lock.from_text(lock_text))
            log.info("environment %s installed from its stored lock", env_key[:12])
        self._envs[env_key] = found.path
        return found.path


def _log_failure(task: asyncio.Task[Path]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("installing an environment failed: %s", task.exception())


class WorkerNode:
    """The pool of this worker behind its admission: refuse first (draining, not here,
    full), then run. `ready` are the versions prepared here whose import check passed."""

    def __init__(
        self,
        *,
        worker_id: str,
        url: str,
        pool: RuntimePool,
        materializer: Materializer,
        egress_problem: str | None = None,
    ):
        self.worker_id = worker_id
        # Why this worker cannot enforce network policies (None: it can, or insecure-dev,
        # where they are stored and not enforced, as on one machine).
        self.egress_problem = egress_problem
        self.url = url
        self.pool = pool
        self.materializer = materializer
        self.started_at = datetime.now(UTC)
        # What its heartbeat says it can run at once, so that API servers spread a busy
        # version before this worker is CPU-bound (read once: quotas are set at start).
        self.cpus = cpu_capacity()
        self.ready: set[VersionKey] = set()
        self.draining = False
        self._calls: Counter[str] = Counter()  # admitted and running, by function id
        # The async runner's `stop_if_lost` (set once the runner is made, `sandlot.node`).
        self.on_kill: Callable[[str], Awaitable[bool]] | None = None
        # The calls of one version carry the same spec: it is decoded and given this disk's
        # paths once, not on every call (measured: about 15 us a call on this path).
        self._decoded: dict[bytes, VersionSpec] = {}  # the spec's JSON -> the spec
        self._local: dict[int, tuple[VersionSpec, Paths, VersionSpec]] = {}  # by id(spec)

    # calls

    def admit(self, spec: VersionSpec, *, others_left: bool = False) -> str | None:
        """None, or the refusal's name (`cluster_wire.REFUSALS`). `spec` as it came;
        `others_left`: the caller has another worker to try (`cluster_wire.WORKER_BUSY`)."""
        if self.draining:
            return wire.WORKER_DRAINING
        if self.materializer.paths(spec.code_sha256, spec.env_key) is None:
            return wire.NOT_PREPARED
        if self._calls[spec.function_id] >= spec.max_concurrency:
            return wire.WORKER_FULL
        if not self._has_room(spec):
            return wire.WORKER_FULL
        if others_left and self._cpus_busy():
            return wire.WORKER_BUSY
        return None

    def _cpus_busy(self) -> bool:
        """Every CPU runs a call (sync or async): one more would slow them all down."""
        return self.cpus > 0 and self.pool.busy_count() >= self.cpus

    def _has_room(self, spec: VersionSpec) -> bool:
        """A warm idle instance of the version, or room for one more instance: free under
        the caps, or an idle instance or spare of anything that the pool may evict. The warm
        case (the common one) is answered without a snapshot of the pool."""
        if self.pool.has_idle(spec.key):
            return True
        stats = self.pool.stats()
        for held in stats.versions:
            if held.function_id == spec.function_id and held.version == spec.version:
                if held.instances > held.busy:
                    return True
                break
        fits = (
            stats.charged_instances < stats.max_instances
            and stats.charged_mb + spec.memory_mb <= stats.max_memory_mb
        )
        return fits or stats.idle > 0 or stats.spares > 0

    def spec_of(self, data: dict[str, Any]) -> VersionSpec:
        """The spec a request carries (`cluster_wire.spec_to_wire`), decoded once per
        distinct spec: the key is all of it (secrets and limits included), so a changed
        spec is a new entry, never a stale one."""
        key = orjson.dumps(data)
        spec = self._decoded.get(key)
        if spec is None:
            spec = wire.spec_from_wire(data, code_dir=Path(), site_packages=())
            if len(self._decoded) >= _SPECS_KEPT:
                self._decoded.clear()
            self._decoded[key] = spec
        return spec

    def localize(self, spec: VersionSpec) -> VersionSpec:
        """The spec with this disk's paths (admitted: they are known)."""
        paths = self.materializer.paths(spec.code_sha256, spec.env_key)
        if paths is None:
            raise VersionNotReady("the version is not on this worker", version=spec.version)
        known = self._local.get(id(spec))
        # The entry holds the spec itself, so its id is not reused while the entry lives.
        if known is not None and known[0] is spec and known[1] == paths:
            return known[2]
        local = dataclasses.replace(spec, code_dir=paths[0], site_packages=paths[1])
        if len(self._local) >= _SPECS_KEPT:
            self._local.clear()
        self._local[id(spec)] = (spec, paths, local)
        return local

    async def invoke(
        self, spec: VersionSpec, invocation_id: str, event: bytes, call: CallInfo = NO_CALL_INFO
    ) -> InvokeOutcome:
        """An admitted call, counted against its function's concurrency while it runs."""
        self.check_egress(spec)
        self._calls[spec.function_id] += 1
        try:
            return await self.pool.invoke(self.localize(spec), invocation_id, event, call)
        finally:
            self._calls[spec.function_id] -= 1
            if not self._calls[spec.function_id]:
                del self._calls[spec.function_id]

    @property
    def running(self) -> int:
        return sum(self._calls.values())

    def check_egress(self, spec: VersionSpec) -> None:
        """Refuse, before anything starts, a version whose network policy this worker
        cannot enforce: the API server accepted it trusting the workers (role api probes
        no host of its own), and the sandbox would refuse its start anyway, later and
        less clearly."""
        if self.egress_problem is not None and not spec.egress.is_none:
            raise EgressUnavailable(
                f"worker {self.worker_id} cannot enforce network policies "
                f"({self.egress_problem}); only 'none' runs here (see `sandlot doctor`)",
                reason=self.egress_problem,
                worker=self.worker_id,
            )

    # prepare and control

    async def prepare(self, spec: VersionSpec) -> Prepared:
        """Materialize the version here, then its import check (what its calls start from)."""
        self.check_egress(spec)
        code_dir, site_packages = await self.materializer.materialize(spec)
        local = dataclasses.replace(spec, code_dir=code_dir, site_packages=site_packages)
        prepared = await self.pool.prepare(local)
        if prepared.error is None:
            self.ready.add(spec.key)
        else:
            self.ready.discard(spec.key)
        return prepared

    async def control(self, body: dict[str, Any]) -> Any:
        """One of `cluster_wire.CONTROL_PATH`'s operations; its result."""
        op = body.get("op")
        if op == "ensure_warm":
            spec = self.spec_of(body["spec"])
            if self.draining or self.materializer.paths(spec.code_sha256, spec.env_key) is None:
                return 0  # not here: the worker that prepares it keeps it warm
            return await self.pool.ensure_warm(self.localize(spec))
        if op == "retain":
            keep = {int(n) for n in body.get("keep") or ()}
            await self.pool.retain(str(body["function_id"]), keep)
            return None
        if op == "stop_function":
            function_id = str(body["function_id"])
            await self.pool.stop_function(function_id)
            self.ready = {key for key in self.ready if key[0] != function_id}
            return None
        if op == "kill":
            return await self.kill(str(body["invocation_id"]))
        if op == "retire_version":
            await self.pool.retire_version(str(body["function_id"]), int(body["version"]))
            return None
        raise InvalidInput(f"unknown control operation {op!r}", op=op)

    async def kill(self, invocation_id: str) -> bool:
        """Stop the asynchronous call if it runs here and its row is no longer this
        worker's (cancelled): `on_kill` is the async runner's check-then-kill."""
        if self.on_kill is None:
            return False
        return await self.on_kill(invocation_id)

    def drain(self) -> bool:
        """Admit nothing new from now on; False when it was draining already."""
        was = self.draining
        self.draining = True
        return not was
