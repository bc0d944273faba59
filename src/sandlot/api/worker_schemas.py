"""The answers of `GET /api/v1/workers` and `POST /api/v1/workers/{worker_id}/drain`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from sandlot.services.workers import WarmView, WorkerList, WorkerView


class WarmOut(BaseModel):
    namespace: str = Field(description="The function's namespace ('' if it is unknown)")
    function: str = Field(description="The function's name (its id if it is unknown)")
    function_id: str | None = Field(description="The function's id (null from the local pool)")
    version: int
    idle: int = Field(description="Warm instances free for the next call")
    instances: int = Field(description="Live instances: starting, idle and busy")
    busy: int = Field(description="Instances running a call")

    @classmethod
    def of(cls, warm: WarmView) -> WarmOut:
        return cls(
            namespace=warm.namespace,
            function=warm.function,
            function_id=warm.function_id,
            version=warm.version,
            idle=warm.idle,
            instances=warm.instances,
            busy=warm.busy,
        )


class WorkerOut(BaseModel):
    id: str = Field(description="`<node>:<run>`, new at each start; `local` in single mode")
    url: str = Field(description="Where API servers reach it")
    hostname: str
    package_version: str = Field(description="The Sandlot version it runs")
    started_at: datetime | None
    heartbeat_at: datetime | None = Field(description="Its last heartbeat")
    age_s: float | None = Field(description="Seconds since its last heartbeat")
    state: Literal["ready", "draining", "stale"] = Field(
        description="`stale`: silent for more than SANDLOT_WORKER_STALE_S (it gets no calls); "
        "`draining`: it finishes its calls and exits; else `ready`"
    )
    draining: bool = Field(description="The worker says it is draining")
    drain_requested: bool = Field(description="An operator asked it to drain")
    free_mb: int = Field(description="Memory it may still charge to new instances")
    max_memory_mb: int
    instances: int
    busy: int
    max_instances: int
    warm: list[WarmOut] = Field(description="What it holds, by version")
    ready: int = Field(description="Versions whose code and environment are on its disk")

    @classmethod
    def of(cls, view: WorkerView) -> WorkerOut:
        return cls(
            id=view.id,
            url=view.url,
            hostname=view.hostname,
            package_version=view.package_version,
            started_at=view.started_at,
            heartbeat_at=view.heartbeat_at,
            age_s=view.age_s,
            state=view.state,
            draining=view.draining,
            drain_requested=view.drain_requested,
            free_mb=view.free_mb,
            max_memory_mb=view.max_memory_mb,
            instances=view.instances,
            busy=view.busy,
            max_instances=view.max_instances,
            warm=[WarmOut.of(w) for w in view.warm],
            ready=view.ready,
        )


class WorkerListOut(BaseModel):
    mode: Literal["single", "cluster"] = Field(
        description="`single`: one process runs everything (its pool is the one entry, "
        "`local`); `cluster`: the workers in the registry"
    )
    workers: list[WorkerOut]

    @classmethod
    def of(cls, found: WorkerList) -> WorkerListOut:
        return cls(
            mode=found.mode,
            workers=[WorkerOut.of(view) for view in found.workers],
        )


class DrainOut(BaseModel):
    worker: str
    drain_requested: bool = Field(description="Always true: the worker reads it next beat")
    message: str
