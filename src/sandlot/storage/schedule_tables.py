"""The tables of schedules (migration 0014_schedules), beside `storage.tables` on its Base."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sandlot.storage.tables import Base, UtcDateTime


class ScheduleRow(Base):
    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_due", "paused", "next_run_at"),
        Index("ix_schedules_function_id", "function_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id"))
    function_id: Mapped[str] = mapped_column(ForeignKey("functions.id"))
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_invocation_id: Mapped[str | None] = mapped_column(String(26), nullable=True)
    skipped_slots: Mapped[int] = mapped_column(Integer, default=0)
    skipped_from: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    skipped_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    skipped_total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    # The alias each slot's call names (NULL: latest); resolved when the slot fires.
    alias: Mapped[str | None] = mapped_column(String(63), nullable=True)


class ScheduleFiringRow(Base):
    """One slot a schedule fired; its primary key is what makes a slot fire once."""

    __tablename__ = "schedule_firings"
    schedule_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    slot_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    invocation_id: Mapped[str] = mapped_column(String(26))
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fired_by: Mapped[str] = mapped_column(String(64))
