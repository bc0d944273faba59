"""The tables of aliases, the deploy history and releases (migration 0017_releases), beside
`storage.tables` on its Base."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sandlot.storage.tables import Base, UtcDateTime


class AliasRow(Base):
    """A named pointer at a function's versions. `routes`: [{version, weight}], newest first
    (domain.aliases.check_routes)."""

    __tablename__ = "aliases"
    function_id: Mapped[str] = mapped_column(ForeignKey("functions.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    routes: Mapped[list[dict[str, int]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class AliasChangeRow(Base):
    """The deploy history: every move of an alias or of `latest`. No foreign key, like the
    audit log: the history outlives what it names."""

    __tablename__ = "alias_changes"
    __table_args__ = (Index("ix_alias_changes_function_id_id", "function_id", "id"),)
    # Time-ordered ids (domain.ids): newest first is ORDER BY id DESC.
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    function_id: Mapped[str] = mapped_column(String(36))
    alias: Mapped[str] = mapped_column(String(63))
    before: Mapped[list[dict[str, int]]] = mapped_column(JSON)
    after: Mapped[list[dict[str, int]]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(32))
    release_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReleaseRow(Base):
    """A progressive move of an alias (domain.releases). At most one running or paused per
    alias, held by a partial unique index on both databases."""

    __tablename__ = "releases"
    __table_args__ = (
        Index(
            "ux_releases_active_alias",
            "function_id",
            "alias",
            unique=True,
            sqlite_where=text("state IN ('running', 'paused')"),
            postgresql_where=text("state IN ('running', 'paused')"),
        ),
        Index("ix_releases_state", "state"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    function_id: Mapped[str] = mapped_column(ForeignKey("functions.id"))
    alias: Mapped[str] = mapped_column(String(63))
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    # The plan (domain.releases.ReleasePlan): steps, interval_s, max_error_rate, ...
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer)
    step_started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The verdicts of the steps judged so far: [{step, new: {...}, old: {...}, at}].
    judged: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
