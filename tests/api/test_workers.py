"""GET /api/v1/workers and POST /api/v1/workers/{worker_id}/drain: one process lists its own
pool as "local" and has nothing to drain; once a worker is in the registry, the list is the
registry's rows, each with a state from its heartbeat's age, and a drain request flags the
row (the worker reads it at its next heartbeat)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandlot.domain.cluster import WarmVersion, WorkerInfo
from sandlot.storage.workers import WorkerRepo
from tests.conftest import Api, open_api

HELLO = {"main.py": "def handler(event, context):\n    return 'hi'\n"}


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    """The usual app, with a worker counted stale only after a minute: a busy machine must
    not turn a row beaten just now into a stale one before the listing reads it."""
    async with open_api(tmp_path / "data", database_url, worker_stale_s=60) as opened:
        yield opened


async def _beat(api: Api, info: WorkerInfo) -> bool:
    async with api.runtime.database.sessions() as session:
        asked = await WorkerRepo(session).heartbeat(info)
        await session.commit()
    return asked


def _worker(worker_id: str, *, age_s: float, **fields: object) -> WorkerInfo:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "url": f"http://127.0.0.11:{8070 + len(worker_id)}",
        "hostname": "box-" + worker_id.split(":")[0],
        "package_version": "0.1.0",
        "started_at": now - timedelta(minutes=5),
        "heartbeat_at": now - timedelta(seconds=age_s),
        "free_mb": 1536,
        "max_memory_mb": 2048,
        "instances": 3,
        "busy": 1,
        "max_instances": 16,
    }
    values.update(fields)
    return WorkerInfo(id=worker_id, **values)  # type: ignore[arg-type]


async def test_one_process_lists_its_own_pool_and_has_nothing_to_drain(api: Api) -> None:
    assert (await api.deploy("pooled", HELLO)).status_code == 201
    assert (await api.invoke("pooled")).status_code == 200
    answer = await api.client.get("/api/v1/workers")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mode"] == "single"
    (local,) = body["workers"]
    assert local["id"] == "local" and local["state"] == "ready"
    assert local["max_memory_mb"] == api.settings.max_memory_mb
    assert local["max_instances"] == api.settings.max_instances
    assert 0 <= local["free_mb"] < api.settings.max_memory_mb  # the instance is charged
    (warm,) = [w for w in local["warm"] if w["function"] == "pooled"]
    assert (warm["namespace"], warm["version"]) == ("default", 1)
    assert warm["instances"] >= 1 and warm["idle"] + warm["busy"] == warm["instances"]

    refused = await api.client.post("/api/v1/workers/local/drain")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "WorkerNotDrainable"
    assert "no worker to drain" in refused.json()["detail"]["message"]


async def test_registered_workers_are_listed_with_their_state(api: Api) -> None:
    deployed = await api.deploy("warmed", HELLO)
    function_id = deployed.json()["id"]
    # Its import check writes in the background: on SQLite, and a busy machine, the beats and
    # the listing below could wait on it past `worker_stale_s`, and every row look stale.
    await api.runtime.builder.drain()
    warm = (WarmVersion(function_id, 1, idle=2, instances=3, busy=1),)
    await _beat(api, _worker("aa:1", age_s=0, warm=warm, ready=frozenset({(function_id, 1)})))
    await _beat(api, _worker("bb:1", age_s=0, draining=True))
    await _beat(api, _worker("cc:1", age_s=api.settings.worker_stale_s + 30))

    answer = await api.client.get("/api/v1/workers")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mode"] == "cluster"
    by_id = {w["id"]: w for w in body["workers"]}
    assert set(by_id) == {"aa:1", "bb:1", "cc:1"}  # the local pool is not among them
    assert [by_id[i]["state"] for i in ("aa:1", "bb:1", "cc:1")] == ["ready", "draining", "stale"]
    first = by_id["aa:1"]
    assert (first["free_mb"], first["busy"], first["instances"]) == (1536, 1, 3)
    assert first["ready"] == 1 and first["hostname"] == "box-aa"
    assert first["warm"] == [
        {
            "namespace": "default",
            "function": "warmed",
            "function_id": function_id,
            "version": 1,
            "idle": 2,
            "instances": 3,
            "busy": 1,
        }
    ]
    assert 0 <= first["age_s"] < api.settings.worker_stale_s
    assert by_id["cc:1"]["age_s"] > api.settings.worker_stale_s


async def test_a_drain_flags_the_row_is_audited_and_the_next_beat_hears_it(api: Api) -> None:
    await _beat(api, _worker("node-a:run-1", age_s=0))
    missing = await api.client.post("/api/v1/workers/node-z:run-9/drain")
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"] == "WorkerNotFound"

    answer = await api.client.post("/api/v1/workers/node-a:run-1/drain")
    assert answer.status_code == 202, answer.text
    assert answer.json()["worker"] == "node-a:run-1"
    listed = (await api.client.get("/api/v1/workers")).json()["workers"]
    (row,) = listed
    assert row["drain_requested"] and row["state"] == "draining"
    assert await _beat(api, _worker("node-a:run-1", age_s=0))  # the worker's next beat

    events = (await api.client.get("/api/v1/audit", params={"action": "worker."})).json()
    (event,) = events["items"]
    assert event["action"] == "worker.drain" and event["target"] == "worker:node-a:run-1"
    assert event["detail"]["url"] == row["url"]


async def test_only_the_platform_admin(api: Api) -> None:
    await _beat(api, _worker("aa:1", age_s=0))
    created = await api.client.post("/api/v1/keys", json={"name": "own", "role": "owner"})
    owner = {"Authorization": f"Bearer {created.json()['key']}"}
    for method, path in (("GET", "/api/v1/workers"), ("POST", "/api/v1/workers/aa:1/drain")):
        denied = await api.client.request(method, path, headers=owner)
        assert denied.status_code == 403 and denied.json()["error"] == "PermissionDenied"
    assert not (await api.client.get("/api/v1/workers")).json()["workers"][0]["drain_requested"]


# Role api runs on PostgreSQL only (it refuses SQLite): its list is the registry's, even empty.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_an_api_server_with_nobody_registered_is_a_cluster_of_none(
    tmp_path: Path, database_url: str
) -> None:
    secret = "a-cluster-secret-of-at-least-32-characters"
    async with open_api(tmp_path / "data", database_url, role="api", cluster_secret=secret) as api:
        answer = await api.client.get("/api/v1/workers")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"mode": "cluster", "workers": []}
        missing = await api.client.post("/api/v1/workers/local/drain")
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"] == "WorkerNotFound"
