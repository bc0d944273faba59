"""Releases (`ReleaseRow`) and the health of one version's calls over a step's window.

The driver takes a running release's row with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
two servers on one database never step the same release at once: the second one skips it
this round. SQLite has one writer (and one server per data dir), so no lock is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import ReleaseInProgress, ReleaseNotFound
from sandlot.domain.models import Function
from sandlot.domain.releases import (
    ACTIVE_RELEASE_STATES,
    Health,
    Judged,
    Release,
    ReleasePlan,
    ReleaseState,
)
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.release_tables import ReleaseRow
from sandlot.storage.tables import FunctionRow, InvocationRow

# What counts against a version: its function's errors (a crash ends `failed` too), its
# timeouts and out-of-memory kills, an async call's last failed attempt. A `cancelled` call
# (a shutdown, a person) says nothing about the version.
ERROR_STATES = ("failed", "timed_out", "out_of_memory", "dead")
JUDGED_STATES = ("succeeded", *ERROR_STATES)
# The verdicts kept on a release: a step that waits a week for traffic must not grow its
# row without bound.
MAX_JUDGED = 200


def _health(data: dict[str, Any]) -> Health:
    return Health(calls=data["calls"], errors=data["errors"], p99_ms=data.get("p99_ms"))


def health_dict(health: Health) -> dict[str, Any]:
    return {
        "calls": health.calls,
        "errors": health.errors,
        "error_rate": round(health.error_rate, 3),
        "p99_ms": health.p99_ms,
    }


def _judged(data: dict[str, Any]) -> Judged:
    return Judged(
        step=data["step"],
        weight=data["weight"],
        at=datetime.fromisoformat(data["at"]),
        verdict=data["verdict"],
        new=_health(data["new"]),
        old=_health(data["old"]),
    )


def _judged_dict(look: Judged) -> dict[str, Any]:
    return {
        "step": look.step,
        "weight": look.weight,
        "at": look.at.isoformat(),
        "verdict": look.verdict,
        "new": health_dict(look.new),
        "old": health_dict(look.old),
    }


def _plan(data: dict[str, Any]) -> ReleasePlan:
    return ReleasePlan(
        steps=tuple(data["steps"]),
        interval_s=data["interval_s"],
        max_error_rate=data["max_error_rate"],
        max_p99_ratio=data.get("max_p99_ratio"),
        min_calls=data["min_calls"],
    )


def _plan_dict(plan: ReleasePlan) -> dict[str, Any]:
    return {
        "steps": list(plan.steps),
        "interval_s": plan.interval_s,
        "max_error_rate": plan.max_error_rate,
        "max_p99_ratio": plan.max_p99_ratio,
        "min_calls": plan.min_calls,
    }


def _release(row: ReleaseRow, function_name: str) -> Release:
    return Release(
        id=row.id,
        function_id=row.function_id,
        function_name=function_name,
        alias=row.alias,
        from_version=row.from_version,
        to_version=row.to_version,
        plan=_plan(row.plan),
        state=ReleaseState(row.state),
        step=row.step,
        step_started_at=row.step_started_at,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        reason=row.reason,
        judged=tuple(_judged(item) for item in row.judged or ()),
    )


_WITH_NAME = select(ReleaseRow, FunctionRow.name).join(
    FunctionRow, FunctionRow.id == ReleaseRow.function_id
)


def _of(rows: Sequence[Any]) -> list[Release]:
    return [_release(row[0], row[1]) for row in rows]


class ReleaseRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, release: Release) -> None:
        """Raises ReleaseInProgress when another release is active on the alias (the
        partial unique index, should two starts race past the service's check)."""
        row = ReleaseRow(
            id=release.id,
            function_id=release.function_id,
            alias=release.alias,
            from_version=release.from_version,
            to_version=release.to_version,
            plan=_plan_dict(release.plan),
            state=release.state.value,
            step=release.step,
            step_started_at=release.step_started_at,
            reason=release.reason,
            created_by=release.created_by,
            created_at=release.created_at,
            updated_at=release.updated_at,
            finished_at=release.finished_at,
            judged=[],
        )
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError as exc:
            raise ReleaseInProgress(
                f"a release already runs on alias {release.alias!r}", alias=release.alias
            ) from exc

    async def save(self, release: Release) -> None:
        """Write what a release's life changes: state, step, window, verdicts, reason."""
        row = await self.session.get(ReleaseRow, release.id)
        if row is None:
            raise ReleaseNotFound(f"no release {release.id!r}", release=release.id)
        row.state = release.state.value
        row.step = release.step
        row.step_started_at = release.step_started_at
        row.reason = release.reason
        row.updated_at = release.updated_at
        row.finished_at = release.finished_at
        row.judged = [_judged_dict(look) for look in release.judged[-MAX_JUDGED:]]
        await self.session.flush()

    async def get(self, function_id: str, release_id: str, *, lock: bool = False) -> Release:
        query = _WITH_NAME.where(ReleaseRow.function_id == function_id, ReleaseRow.id == release_id)
        if lock:
            query = query.with_for_update(of=ReleaseRow)
        found = (await self.session.execute(query)).first()
        if found is None:
            raise ReleaseNotFound(f"no release {release_id!r}", release=release_id)
        return _release(found[0], found[1])

    async def of_function(self, function_id: str, state: str | None = None) -> list[Release]:
        query = _WITH_NAME.where(ReleaseRow.function_id == function_id)
        if state is not None:
            query = query.where(ReleaseRow.state == state)
        rows = await self.session.execute(query.order_by(ReleaseRow.id.desc()))
        return _of(rows.all())

    async def active_of(self, function_id: str, alias: str) -> Release | None:
        """The running or paused release moving `alias`, if any."""
        rows = await self.session.execute(
            _WITH_NAME.where(
                ReleaseRow.function_id == function_id,
                ReleaseRow.alias == alias,
                ReleaseRow.state.in_([state.value for state in ACTIVE_RELEASE_STATES]),
            )
        )
        found = _of(rows.all())
        return found[0] if found else None

    async def function_of(self, release: Release) -> Function:
        row = await self.session.get(FunctionRow, release.function_id)
        if row is None:
            raise ReleaseNotFound(f"no release {release.id!r}", release=release.id)
        return await FunctionRepo(self.session).get(row.namespace_id, row.name)

    # -- the driver ----------------------------------------------------------------------------

    async def running(self) -> list[Release]:
        """Every running release of a live function (few: at most one per alias)."""
        query = _WITH_NAME.where(
            ReleaseRow.state == ReleaseState.RUNNING.value, FunctionRow.deleted_at.is_(None)
        )
        return _of((await self.session.execute(query.order_by(ReleaseRow.id))).all())

    async def take_running(self, release_id: str) -> Release | None:
        """The release, locked for this transaction, if it still runs and no other server
        holds it now (then it is theirs this round)."""
        query = _WITH_NAME.where(
            ReleaseRow.id == release_id, ReleaseRow.state == ReleaseState.RUNNING.value
        ).with_for_update(of=ReleaseRow, skip_locked=True)
        found = (await self.session.execute(query)).first()
        return None if found is None else _release(found[0], found[1])

    async def health(
        self, function_id: str, version: int, start: datetime, end: datetime
    ) -> Health:
        """The calls made to one version in [start, end) that have ended, their errors, and
        their nearest-rank p99 duration (the same answer on both databases)."""
        window = (
            InvocationRow.function_id == function_id,
            InvocationRow.version == version,
            InvocationRow.created_at >= start,
            InvocationRow.created_at < end,
            InvocationRow.state.in_(JUDGED_STATES),
        )
        errors = func.sum(case((InvocationRow.state.in_(ERROR_STATES), 1), else_=0))
        calls, failed, timed = (
            await self.session.execute(
                select(func.count(), errors, func.count(InvocationRow.duration_ms)).where(*window)
            )
        ).one()
        p99 = None
        if timed:
            rank = (int(timed) * 99 + 99) // 100  # ceil(0.99 n) in integers
            p99 = await self.session.scalar(
                select(InvocationRow.duration_ms)
                .where(*window, InvocationRow.duration_ms.is_not(None))
                .order_by(InvocationRow.duration_ms)
                .offset(rank - 1)
                .limit(1)
            )
        return Health(calls=int(calls or 0), errors=int(failed or 0), p99_ms=p99)
