"""The worker's internal API with a real pool: signatures, replays, admission, invoke."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson

from sandlot.domain import cluster_auth
from sandlot.services import cluster_wire as wire
from tests.conftest import HELLO
from tests.worker_node.helpers import SECRET, deploy_spec, worker_node

SLOW = {
    "main.py": "import time\n\ndef handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n    return {'slept': event.get('sleep', 0)}\n"
}


async def test_unsigned_and_replayed_requests_are_refused(
    tmp_path: Path, database_url: str
) -> None:
    spec = await deploy_spec(tmp_path / "api", database_url, "hello", HELLO)
    async with worker_node(tmp_path / "worker", database_url) as w:
        health = await w.client.get(wire.HEALTH_PATH)
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "worker": "w-test:1"}

        body = wire.frame({"spec": spec, "invocation_id": "inv-1", "call": {}}, b"{}")
        unsigned = await w.post(wire.INVOKE_PATH, body, signed=False)
        assert unsigned.status_code == 401
        assert unsigned.json()["error"] == wire.SIGNATURE_INVALID

        wrong = cluster_auth.sign(
            b"another secret of forty characters......", "POST", wire.INVOKE_PATH, body
        )
        forged = await w.post(wire.INVOKE_PATH, body, signed=False, headers=wrong)
        assert forged.status_code == 401
        assert "does not match" in forged.json()["detail"]["message"]

        headers = cluster_auth.sign(SECRET.encode(), "POST", wire.INVOKE_PATH, body)
        first = await w.post(wire.INVOKE_PATH, body, signed=False, headers=headers)
        assert first.status_code == 409  # signed: admitted to the check, not prepared here
        again = await w.post(wire.INVOKE_PATH, body, signed=False, headers=headers)
        assert again.status_code == 401
        assert "replay" in again.json()["detail"]["message"]

        stats = await w.client.get(wire.STATS_PATH)
        assert stats.status_code == 401


async def test_prepare_then_invoke(tmp_path: Path, database_url: str) -> None:
    spec = await deploy_spec(tmp_path / "api", database_url, "hello", HELLO)
    async with worker_node(tmp_path / "worker", database_url) as w:
        refused = await w.invoke(spec, b'{"name": "x"}', "inv-1")
        assert refused.status_code == 409
        assert refused.json()["error"] == wire.NOT_PREPARED
        assert w.pool.stats().instances == 0  # refused before anything started

        prepared = await w.post_json(wire.PREPARE_PATH, {"spec": spec})
        assert prepared.status_code == 200, prepared.text
        assert wire.prepared_from_wire(prepared.json()).error is None
        assert (spec["function_id"], spec["version"]) in w.node.ready
        code_dir = w.settings.code_dir / spec["code_sha256"]
        assert (code_dir / "main.py").is_file()  # restored from the database here

        answer = await w.invoke(spec, b'{"name": "sandlot"}', "inv-2")
        assert answer.status_code == 200, answer.text
        outcome = wire.outcome_from_wire(answer.content)
        assert outcome.invocation_id == "inv-2"
        assert orjson.loads(outcome.result_json or b"") == {"hello": "sandlot"}

        stats = await w.client.get(
            wire.STATS_PATH,
            headers=cluster_auth.sign(SECRET.encode(), "GET", wire.STATS_PATH, b""),
        )
        assert stats.status_code == 200
        held = stats.json()["versions"]
        assert [v["function_id"] for v in held] == [spec["function_id"]]


async def test_control_and_drain(tmp_path: Path, database_url: str) -> None:
    spec = await deploy_spec(tmp_path / "api", database_url, "hello", HELLO)
    async with worker_node(tmp_path / "worker", database_url) as w:
        assert (await w.post_json(wire.PREPARE_PATH, {"spec": spec})).status_code == 200
        unknown = await w.post_json(wire.CONTROL_PATH, {"op": "explode"})
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "InvalidInput"
        stopped = await w.post_json(
            wire.CONTROL_PATH, {"op": "stop_function", "function_id": spec["function_id"]}
        )
        assert stopped.status_code == 200
        assert stopped.json() == {"result": None}
        assert w.node.ready == set()

        drained = await w.post(wire.DRAIN_PATH, b"")
        assert drained.status_code == 202
        assert w.node.draining
        refused = await w.invoke(spec, b"{}", "inv-3")
        assert refused.status_code == 503
        assert refused.json()["error"] == wire.WORKER_DRAINING
        again = await w.post_json(wire.PREPARE_PATH, {"spec": spec})
        assert again.status_code == 503
        health = await w.client.get(wire.HEALTH_PATH)
        assert health.json()["status"] == "draining"


async def test_a_full_worker_refuses_before_it_starts_anything(
    tmp_path: Path, database_url: str
) -> None:
    spec = await deploy_spec(tmp_path / "api", database_url, "slow", SLOW)
    async with worker_node(tmp_path / "worker", database_url, max_instances=1) as w:
        assert (await w.post_json(wire.PREPARE_PATH, {"spec": spec})).status_code == 200
        busy = asyncio.create_task(w.invoke(spec, b'{"sleep": 3}', "inv-busy"))
        deadline = time.monotonic() + 30
        while w.pool.stats().busy < 1:
            assert time.monotonic() < deadline, "the first call never ran"
            await asyncio.sleep(0.02)
        full = await w.invoke(spec, b'{"sleep": 0}', "inv-full")
        assert full.status_code == 429
        assert full.json()["error"] == wire.WORKER_FULL
        assert w.pool.stats().instances == 1
        first = await busy
        assert first.status_code == 200
        assert orjson.loads(wire.outcome_from_wire(first.content).result_json or b"") == {
            "slept": 3
        }


async def test_a_worker_whose_cpus_are_busy_refuses_only_a_caller_with_another_to_try(
    tmp_path: Path, database_url: str
) -> None:
    spec = await deploy_spec(tmp_path / "api", database_url, "slow", SLOW)
    async with worker_node(tmp_path / "worker", database_url) as w:
        w.node.cpus = 1.0  # as a worker held to one CPU says
        assert (await w.post_json(wire.PREPARE_PATH, {"spec": spec})).status_code == 200
        busy = asyncio.create_task(w.invoke(spec, b'{"sleep": 2}', "inv-cpu-busy"))
        deadline = time.monotonic() + 30
        while w.pool.stats().busy < 1:
            assert time.monotonic() < deadline, "the first call never ran"
            await asyncio.sleep(0.02)
        refused = await w.invoke(spec, b'{"sleep": 0}', "inv-cpu-next", others_left=True)
        assert refused.status_code == 429
        assert refused.json()["error"] == wire.WORKER_BUSY
        # The last worker a caller has takes the call all the same.
        last = await w.invoke(spec, b'{"sleep": 0}', "inv-cpu-last")
        assert last.status_code == 200
        assert (await busy).status_code == 200
