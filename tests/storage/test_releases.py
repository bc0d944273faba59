"""The release repository on a real SQLite file and a real PostgreSQL server: one version's
health over a window, one active release per alias, and the driver's row lock that a
second server skips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.errors import ReleaseInProgress
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.releases import Release, ReleaseState, check_plan
from sandlot.storage.db import make_engine, make_sessionmaker
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.keys import NamespaceRepo
from sandlot.storage.releases import ReleaseRepo
from sandlot.storage.tables import InvocationRow

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(migrated_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(migrated_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def _call(
    function_id: str, version: int, state: str, at: datetime, ms: float | None
) -> InvocationRow:
    return InvocationRow(
        id=new_invocation_id(),
        namespace_id="ns",
        function_id=function_id,
        function_name="shop",
        version=version,
        trigger="api",
        state=state,
        cold_start=False,
        created_at=at,
        finished_at=at if ms is not None else None,
        duration_ms=ms,
        timings={},
        log_excerpt="",
        logs_truncated=False,
        attempt=1,
    )


def _release(function_id: str, alias: str = "prod") -> Release:
    return Release(
        id="rel_" + new_invocation_id(),
        function_id=function_id,
        function_name="shop",
        alias=alias,
        from_version=1,
        to_version=2,
        plan=check_plan([10, 100], 30, 2.0),
        state=ReleaseState.RUNNING,
        step=0,
        step_started_at=START,
        created_by="key:test",
        created_at=START,
        updated_at=START,
    )


async def test_health_counts_a_versions_ended_calls_in_the_window(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        namespace = await NamespaceRepo(session).create("team")
        function = await FunctionRepo(session).create(namespace.id, "shop")
        inside = START + timedelta(seconds=5)
        # 100 ended calls of v2 inside the window: durations 1..100 ms, 7 of them errors.
        states = ["failed"] * 4 + ["timed_out", "out_of_memory", "dead"] + ["succeeded"] * 93
        for n, state in enumerate(states, start=1):
            session.add(_call(function.id, 2, state, inside, float(n)))
        # None of these count: another version, before or at the window's end, not ended,
        # cancelled (a shutdown says nothing of the version).
        session.add(_call(function.id, 1, "failed", inside, 1.0))
        session.add(_call(function.id, 2, "failed", START - timedelta(seconds=1), 1.0))
        session.add(_call(function.id, 2, "failed", START + timedelta(seconds=30), 1.0))
        session.add(_call(function.id, 2, "running", inside, None))
        session.add(_call(function.id, 2, "cancelled", inside, 5000.0))
        await session.flush()
        repo = ReleaseRepo(session)
        health = await repo.health(function.id, 2, START, START + timedelta(seconds=30))
        assert (health.calls, health.errors, health.p99_ms) == (100, 7, 99.0)
        assert health.error_rate == 7.0
        none = await repo.health(function.id, 3, START, START + timedelta(seconds=30))
        assert (none.calls, none.errors, none.p99_ms) == (0, 0, None)


async def test_one_active_release_per_alias_and_a_locked_one_is_skipped(
    sessions: async_sessionmaker[AsyncSession], migrated_url: str
) -> None:
    async with sessions() as session:
        namespace = await NamespaceRepo(session).create("team")
        function = await FunctionRepo(session).create(namespace.id, "shop")
        first = _release(function.id)
        await ReleaseRepo(session).add(first)
        with pytest.raises(ReleaseInProgress):
            await ReleaseRepo(session).add(_release(function.id))
        await ReleaseRepo(session).add(_release(function.id, alias="staging"))
        await session.commit()
    if not migrated_url.startswith("postgresql"):
        return  # SQLite: one writer and one server per data dir; no row locks to skip
    async with sessions() as one, one.begin(), sessions() as two, two.begin():
        assert (await ReleaseRepo(one).take_running(first.id)) is not None
        # Another server's round, while the first holds the row: it skips, never waits.
        assert await ReleaseRepo(two).take_running(first.id) is None
