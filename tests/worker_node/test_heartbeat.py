"""The heartbeat: the worker's row, an operator's drain, and the leases of silent workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.cluster import WorkerInfo
from sandlot.domain.models import QueuedCall
from sandlot.domain.queue import Backoff
from sandlot.domain.states import InvocationState
from sandlot.services import cluster_wire as wire
from sandlot.services.async_reaper import Reaper
from sandlot.services.heartbeat import Heartbeat
from sandlot.storage.db import Database, upgrade
from sandlot.storage.queue import QueueRepo
from sandlot.storage.tables import InvocationRow
from sandlot.storage.workers import WorkerRepo
from tests.conftest import HELLO
from tests.worker_node.helpers import Node, deploy_spec, worker_node


async def _no_destinations(_session: AsyncSession, _namespace_id: str, _id: str) -> None:
    return None


def _heartbeat(w: Node) -> Heartbeat:
    reaper = Reaper(w.database, Backoff(0.0, 0.0), _no_destinations, lambda: None)
    return Heartbeat(
        database=w.database,
        node=w.node,
        reaper=reaper,
        interval_s=1.0,
        stale_s=5.0,
        on_drain=w.node.drain,
    )


async def test_a_beat_writes_the_row_and_honours_a_drain_request(
    tmp_path: Path, database_url: str
) -> None:
    spec = await deploy_spec(tmp_path / "api", database_url, "hello", HELLO)
    async with worker_node(tmp_path / "worker", database_url) as w:
        assert (await w.post_json(wire.PREPARE_PATH, {"spec": spec})).status_code == 200
        beat = _heartbeat(w)
        assert await beat.beat() is False
        async with w.database.sessions() as session:
            row = await WorkerRepo(session).get("w-test:1")
        assert row is not None
        assert row.url == "http://127.0.0.1:1"
        assert not row.draining
        key = (spec["function_id"], spec["version"])
        assert row.ready == frozenset({key})
        assert [(v.key, v.idle) for v in row.warm] in ([(key, 1)], [])  # zygote or instance
        assert row.max_memory_mb == w.settings.max_memory_mb

        async with w.database.sessions.begin() as session:
            assert await WorkerRepo(session).request_drain("w-test:1")
        assert await beat.beat() is True
        assert w.node.draining
        await beat.beat()
        async with w.database.sessions() as session:
            after = await WorkerRepo(session).get("w-test:1")
        assert after is not None and after.draining

        await beat.close(remove=True)
        async with w.database.sessions() as session:
            assert await WorkerRepo(session).get("w-test:1") is None


async def _leased_call(database: Database, owner: str, now: datetime) -> str:
    call = QueuedCall(
        id="inv-lost",
        namespace_id="ns",
        function_id="fn",
        function_name="hello",
        version=1,
        trigger="async",
        created_at=now,
        run_after=now,
        payload="{}",
        max_attempts=3,
    )
    async with database.sessions.begin() as session:
        await QueueRepo(session).enqueue(call)
    async with database.sessions.begin() as session:
        claimed = await QueueRepo(session).claim(
            {call.id: now + timedelta(hours=1)}, owner=owner, now=now
        )
    assert [c.attempt for c in claimed] == [1]
    return call.id


async def test_the_leases_of_a_silent_worker_go_back_to_the_queue(
    tmp_path: Path, database_url: str
) -> None:
    await upgrade(database_url)
    async with worker_node(tmp_path / "worker", database_url) as w:
        now = datetime.now(UTC)
        invocation_id = await _leased_call(w.database, "ghost:run", now)
        async with w.database.sessions.begin() as session:
            repo = WorkerRepo(session)
            for worker_id, silent_s in (("ghost:run", 10), ("fresh:run", 0), ("gone:run", 400)):
                at = now - timedelta(seconds=silent_s)
                info = WorkerInfo(id=worker_id, url="http://x", started_at=at, heartbeat_at=at)
                await repo.heartbeat(info)

        beat = _heartbeat(w)
        assert await beat.look_after_silent(now) == 1

        async with w.database.sessions() as session:
            row = await session.get(InvocationRow, invocation_id)
            assert row is not None
            assert row.state == InvocationState.QUEUED.value
            assert row.lease_owner is None
            assert row.attempt == 1  # counted: the next claim is attempt 2
            assert [a["error"]["kind"] for a in row.attempts or ()] == ["WorkerLost"]
            ids = [w.id for w in await WorkerRepo(session).all()]
        assert ids == ["fresh:run", "ghost:run"]  # silent for 5 minutes: pruned

        # The lost worker's attempt, ending late, writes nothing (the fence), even once the
        # call is claimed again by another worker.
        async with w.database.sessions.begin() as session:
            assert not await QueueRepo(session).end(invocation_id, 1, {"state": "succeeded"})
        async with w.database.sessions.begin() as session:
            again = await QueueRepo(session).claim(
                {invocation_id: now + timedelta(hours=1)}, owner="fresh:run", now=now
            )
        assert [c.attempt for c in again] == [2]
        async with w.database.sessions.begin() as session:
            assert not await QueueRepo(session).end(invocation_id, 1, {"state": "succeeded"})
            assert await QueueRepo(session).end(invocation_id, 2, {"state": "succeeded"})
        assert await beat.look_after_silent(now) == 0
