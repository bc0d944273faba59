"""What a worker puts on its own disk: the environment from the version's stored lock (never
a rebuild), and queued calls claimed and run by a whole worker with its id as lease owner."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import select

from sandlot.domain import cluster_auth
from sandlot.domain.models import QueuedCall
from sandlot.domain.states import InvocationState, VersionState
from sandlot.node import run_worker
from sandlot.services import cluster_wire as wire
from sandlot.storage.db import Database
from sandlot.storage.queue import QueueRepo
from sandlot.storage.tables import InvocationRow, VersionRow
from sandlot.storage.workers import WorkerRepo
from tests.conftest import HELLO, make_settings
from tests.envs.wheelkit import write_wheel
from tests.worker_node.helpers import SECRET, deploy_spec, worker_node

USES_ALPHA = {
    "main.py": "import alpha\ndef handler(event, context):\n    return {'alpha': alpha.VERSION}\n",
    "requirements.txt": "alpha\n",
}


async def test_prepare_installs_the_stored_lock_on_the_worker(
    tmp_path: Path, database_url: str
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    write_wheel(str(links), "alpha", "1.0", requires=["beta<2"])
    write_wheel(str(links), "beta", "1.5")
    spec = await deploy_spec(
        tmp_path / "api", database_url, "fn", USES_ALPHA, find_links=[str(links)]
    )
    assert spec["env_key"] is not None
    async with worker_node(tmp_path / "worker", database_url, find_links=[str(links)]) as w:
        refused = await w.invoke(spec, b"{}", "inv-1")
        assert refused.status_code == 409

        prepared = await w.post_json(wire.PREPARE_PATH, {"spec": spec})
        assert prepared.status_code == 200, prepared.text
        assert prepared.json()["error"] is None
        installed = list((w.settings.envs_dir / "envs").iterdir())
        assert [p.name for p in installed] == [spec["env_key"]]  # on the worker's own disk

        answer = await w.invoke(spec, b"{}", "inv-2")
        assert answer.status_code == 200, answer.text
        result = wire.outcome_from_wire(answer.content).result_json
        assert orjson.loads(result or b"") == {"alpha": "1.0"}
        async with w.database.sessions() as session:
            states = list(await session.scalars(select(VersionRow.state)))
        assert states == [VersionState.READY.value]  # installed here, not rebuilt


@pytest.mark.postgres
async def test_a_worker_claims_and_runs_queued_calls(tmp_path: Path, postgres_url: str) -> None:
    database_url = postgres_url
    spec = await deploy_spec(tmp_path / "api", database_url, "hello", HELLO)
    now = datetime.now(UTC)
    call = QueuedCall(
        id="inv-async",
        namespace_id=spec["namespace_id"],
        function_id=spec["function_id"],
        function_name="hello",
        version=spec["version"],
        trigger="async",
        created_at=now,
        run_after=now,
        payload='{"name": "queue"}',
    )
    database = Database(database_url)
    try:
        async with database.sessions.begin() as session:
            await QueueRepo(session).enqueue(call)
        settings = make_settings(
            tmp_path / "worker", database_url, cluster_secret=SECRET, worker_port=0
        )
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        running = asyncio.create_task(run_worker(settings, on_listening=listening.set_result))
        url = await asyncio.wait_for(listening, 90)
        deadline = time.monotonic() + 60
        while True:
            async with database.sessions() as session:
                row = await session.get(InvocationRow, call.id)
                assert row is not None
                if row.state == InvocationState.SUCCEEDED.value:
                    break
            assert time.monotonic() < deadline, f"still {row.state}"
            await asyncio.sleep(0.05)  # polling the row another task writes
        assert orjson.loads(row.result_json or "") == {"hello": "queue"}

        headers = cluster_auth.sign(SECRET.encode(), "POST", wire.DRAIN_PATH, b"")
        async with httpx.AsyncClient() as client:
            drained = await client.post(url + wire.DRAIN_PATH, headers=headers)
        assert drained.status_code == 202
        await asyncio.wait_for(running, 60)  # it ends by itself once drained
        async with database.sessions() as session:
            assert await WorkerRepo(session).all() == []
    finally:
        await database.dispose()


SLOW = {
    "main.py": "import time\n\ndef handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n    return {'slept': event.get('sleep', 0)}\n"
}


def _signed(path: str, body: bytes, method: str = "POST") -> dict[str, str]:
    return cluster_auth.sign(SECRET.encode(), method, path, body)


@pytest.mark.postgres
async def test_a_drain_lets_the_running_call_finish(tmp_path: Path, postgres_url: str) -> None:
    spec = await deploy_spec(tmp_path / "api", postgres_url, "slow", SLOW)
    settings = make_settings(
        tmp_path / "worker", postgres_url, cluster_secret=SECRET, worker_port=0
    )
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    running = asyncio.create_task(run_worker(settings, on_listening=listening.set_result))
    url = await asyncio.wait_for(listening, 90)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        body = orjson.dumps({"spec": spec})
        prepared = await client.post(
            wire.PREPARE_PATH, content=body, headers=_signed(wire.PREPARE_PATH, body)
        )
        assert prepared.status_code == 200, prepared.text

        def frame(invocation_id: str, sleep: float) -> bytes:
            head = {"spec": spec, "invocation_id": invocation_id, "call": {}}
            return wire.frame(head, orjson.dumps({"sleep": sleep}))

        first = frame("inv-long", 2)
        call = asyncio.create_task(
            client.post(wire.INVOKE_PATH, content=first, headers=_signed(wire.INVOKE_PATH, first))
        )
        deadline = time.monotonic() + 30
        while True:  # the call is running in the worker
            stats = await client.get(wire.STATS_PATH, headers=_signed(wire.STATS_PATH, b"", "GET"))
            if stats.json()["busy"] == 1:
                break
            assert time.monotonic() < deadline, "the call never started"
            await asyncio.sleep(0.02)  # polling another task's call
        drained = await client.post(wire.DRAIN_PATH, headers=_signed(wire.DRAIN_PATH, b""))
        assert drained.status_code == 202
        late = frame("inv-late", 0)
        refused = await client.post(
            wire.INVOKE_PATH, content=late, headers=_signed(wire.INVOKE_PATH, late)
        )
        assert refused.status_code == 503
        answer = await call
    assert answer.status_code == 200
    outcome = wire.outcome_from_wire(answer.content)
    assert orjson.loads(outcome.result_json or b"") == {"slept": 2}
    await asyncio.wait_for(running, 60)
    database = Database(postgres_url)
    try:
        async with database.sessions() as session:
            assert await WorkerRepo(session).all() == []
    finally:
        await database.dispose()
