"""The workers as an operator sees them (`GET /api/v1/workers`, `sandlot workers`, the
console's Workers page), and asking one to drain.

One process (role all, nobody in the registry) is "single" mode: the list is this process's
own pool, as one entry named "local", and there is nothing to drain but the server itself.
Otherwise ("cluster") the list is the registry's rows, each with a state read from its last
heartbeat's age; a drain request is a flag on the row that the worker reads at its next beat.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot import __version__
from sandlot.config import Role, Settings
from sandlot.domain.actions import Action
from sandlot.domain.cluster import WorkerInfo
from sandlot.domain.errors import WorkerNotDrainable, WorkerNotFound
from sandlot.domain.models import Principal
from sandlot.services import audit
from sandlot.services.authz import authorize
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.workers import WorkerRepo
from sandlot.worker.interface import Pool, PoolStats

LOCAL_ID = "local"
SINGLE, CLUSTER = "single", "cluster"
READY, DRAINING, STALE = "ready", "draining", "stale"

# When this process started, as near as the local entry needs it (the module loads at start).
_STARTED_AT = datetime.now(UTC)


@dataclass(frozen=True)
class WarmView:
    """What a worker holds of one version. `function_id` is None where the pool does not say
    (a pool whose versions carry no id)."""

    namespace: str
    function: str
    function_id: str | None
    version: int
    idle: int
    instances: int
    busy: int


@dataclass(frozen=True)
class WorkerView:
    id: str
    url: str
    hostname: str
    package_version: str
    started_at: datetime | None
    heartbeat_at: datetime | None
    age_s: float | None
    state: str
    draining: bool
    drain_requested: bool
    free_mb: int
    max_memory_mb: int
    instances: int
    busy: int
    max_instances: int
    warm: tuple[WarmView, ...]
    ready: int


@dataclass(frozen=True)
class WorkerList:
    mode: str
    workers: tuple[WorkerView, ...]


def state_of(info: WorkerInfo, now: datetime, stale_after_s: float) -> str:
    """Stale first: a silent worker gets no calls whatever it said last."""
    if not info.is_live(now, stale_after_s):
        return STALE
    if info.draining or info.drain_requested:
        return DRAINING
    return READY


async def list_workers(
    *, session: AsyncSession, principal: Principal, settings: Settings, pool: Pool
) -> WorkerList:
    authorize(principal, Action.MONITOR_READ)
    rows = await WorkerRepo(session).all()
    if _single(settings, rows):
        return WorkerList(SINGLE, (_local(pool.stats(), settings),))
    now = datetime.now(UTC)
    ids = {warm.function_id for row in rows for warm in row.warm}
    names = await FunctionRepo(session).names(ids)
    views = tuple(_remote(row, now, settings.worker_stale_s, names) for row in rows)
    return WorkerList(CLUSTER, views)


async def request_drain(
    *, session: AsyncSession, principal: Principal, settings: Settings, worker_id: str
) -> WorkerInfo:
    """Flag the worker to drain; it stops admitting calls at its next heartbeat and exits
    once its calls are done. The caller commits (the flag and the audit event together)."""
    authorize(principal, Action.MONITOR_READ)
    repo = WorkerRepo(session)
    if settings.role is Role.ALL and not await repo.all():
        raise WorkerNotDrainable(
            "this server runs functions in its own process (role all, no worker registered): "
            "there is no worker to drain; stop the server to stop it",
            worker=worker_id,
        )
    info = await repo.get(worker_id)
    if info is None or not await repo.request_drain(worker_id):
        raise WorkerNotFound(f"no worker {worker_id!r} in the registry", worker=worker_id)
    await audit.record(
        session,
        principal=principal,
        action="worker.drain",
        target=f"worker:{worker_id}",
        detail={"url": info.url, "hostname": info.hostname},
    )
    return info


def _single(settings: Settings, rows: list[WorkerInfo]) -> bool:
    return settings.role is Role.ALL and not rows


def _local(stats: PoolStats, settings: Settings) -> WorkerView:
    now = datetime.now(UTC)
    warm = tuple(
        WarmView(
            namespace=held.namespace,
            function=held.function_name,
            function_id=held.function_id or None,
            version=held.version,
            idle=held.instances - held.busy,
            instances=held.instances,
            busy=held.busy,
        )
        for held in stats.versions
    )
    return WorkerView(
        id=LOCAL_ID,
        url=settings.public_url or "",
        hostname=socket.gethostname(),
        package_version=__version__,
        started_at=_STARTED_AT,
        heartbeat_at=now,
        age_s=0.0,
        state=READY,
        draining=False,
        drain_requested=False,
        free_mb=max(stats.max_memory_mb - stats.charged_mb, 0),
        max_memory_mb=stats.max_memory_mb,
        instances=stats.instances,
        busy=stats.busy,
        max_instances=stats.max_instances,
        warm=warm,
        ready=len(stats.versions),
    )


def _remote(
    row: WorkerInfo, now: datetime, stale_after_s: float, names: dict[str, tuple[str, str]]
) -> WorkerView:
    warm = tuple(
        WarmView(
            namespace=names.get(w.function_id, ("", ""))[0],
            function=names.get(w.function_id, ("", w.function_id))[1],
            function_id=w.function_id,
            version=w.version,
            idle=w.idle,
            instances=w.instances,
            busy=w.busy,
        )
        for w in row.warm
    )
    age = None if row.heartbeat_at is None else (now - row.heartbeat_at).total_seconds()
    return WorkerView(
        id=row.id,
        url=row.url,
        hostname=row.hostname,
        package_version=row.package_version,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        age_s=None if age is None else max(age, 0.0),
        state=state_of(row, now, stale_after_s),
        draining=row.draining,
        drain_requested=row.drain_requested,
        free_mb=row.free_mb,
        max_memory_mb=row.max_memory_mb,
        instances=row.instances,
        busy=row.busy,
        max_instances=row.max_instances,
        warm=warm,
        ready=len(row.ready),
    )
