"""The registry of workers (migration 0020_workers), beside `storage.tables` on its Base."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sandlot.storage.tables import Base, UtcDateTime


class WorkerRow(Base):
    """One `sandlot worker`, upserted by its heartbeat; removed when it exits cleanly, or by
    any node once it has been silent for long (`WorkerRepo.prune`)."""

    __tablename__ = "workers"
    __table_args__ = (Index("ix_workers_heartbeat_at", "heartbeat_at"),)
    # The worker's claimer id (`<node>:<run>`, storage.node_id): its leases carry it too.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(300))
    hostname: Mapped[str] = mapped_column(String(255), default="")
    package_version: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime())
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    drain_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    free_mb: Mapped[int] = mapped_column(Integer, default=0)
    max_memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    instances: Mapped[int] = mapped_column(Integer, default=0)
    busy: Mapped[int] = mapped_column(Integer, default=0)
    max_instances: Mapped[int] = mapped_column(Integer, default=0)
    # The CPUs it may use (its affinity, capped by its cgroups' quotas); 0: not said.
    cpus: Mapped[float] = mapped_column(Float, default=0.0)
    # [[function id, version, idle, instances, busy], ...]
    warm: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # [[function id, version], ...]: prepared here (code, environment, import checked).
    ready: Mapped[list[Any]] = mapped_column(JSON, default=list)
