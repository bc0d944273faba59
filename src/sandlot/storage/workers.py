"""The registry of workers: each worker's heartbeat upserts its row; API servers read them all
to route calls; operators list them and ask one to drain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.cluster import WarmVersion, WorkerInfo
from sandlot.storage.worker_tables import WorkerRow


def _info(row: WorkerRow) -> WorkerInfo:
    return WorkerInfo(
        id=row.id,
        url=row.url,
        hostname=row.hostname,
        package_version=row.package_version,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        draining=row.draining,
        drain_requested=row.drain_requested,
        free_mb=row.free_mb,
        max_memory_mb=row.max_memory_mb,
        instances=row.instances,
        busy=row.busy,
        max_instances=row.max_instances,
        cpus=row.cpus,
        warm=tuple(
            WarmVersion(str(w[0]), int(w[1]), int(w[2]), int(w[3]), int(w[4]))
            for w in row.warm or []
        ),
        ready=frozenset((str(r[0]), int(r[1])) for r in row.ready or []),
    )


def _columns(info: WorkerInfo) -> dict[str, Any]:
    """What a heartbeat writes: everything but `drain_requested`, which is the operator's."""
    return {
        "url": info.url,
        "hostname": info.hostname,
        "package_version": info.package_version,
        "started_at": info.started_at,
        "heartbeat_at": info.heartbeat_at,
        "draining": info.draining,
        "free_mb": info.free_mb,
        "max_memory_mb": info.max_memory_mb,
        "instances": info.instances,
        "busy": info.busy,
        "max_instances": info.max_instances,
        "cpus": info.cpus,
        "warm": [[w.function_id, w.version, w.idle, w.instances, w.busy] for w in info.warm],
        "ready": sorted([f, v] for f, v in info.ready),
    }


class WorkerRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def heartbeat(self, info: WorkerInfo) -> bool:
        """Upsert the worker's row; returns whether an operator asked it to drain."""
        columns = _columns(info)
        row = await self.session.get(WorkerRow, info.id)
        if row is None:
            self.session.add(WorkerRow(id=info.id, drain_requested=False, **columns))
            await self.session.flush()
            return False
        for name, value in columns.items():
            setattr(row, name, value)
        await self.session.flush()
        return row.drain_requested

    async def all(self) -> list[WorkerInfo]:
        rows = await self.session.scalars(select(WorkerRow).order_by(WorkerRow.id))
        return [_info(row) for row in rows]

    async def get(self, worker_id: str) -> WorkerInfo | None:
        row = await self.session.get(WorkerRow, worker_id)
        return None if row is None else _info(row)

    async def request_drain(self, worker_id: str) -> bool:
        """Mark the worker to drain at its next heartbeat; False if there is no such worker."""
        result = await self.session.execute(
            update(WorkerRow).where(WorkerRow.id == worker_id).values(drain_requested=True)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def remove(self, worker_id: str) -> None:
        """The worker exited cleanly (or was pruned)."""
        await self.session.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))

    async def silent_since(self, before: datetime) -> list[WorkerInfo]:
        """Workers whose last heartbeat is older than `before`."""
        rows = await self.session.scalars(
            select(WorkerRow).where(WorkerRow.heartbeat_at < before).order_by(WorkerRow.id)
        )
        return [_info(row) for row in rows]
