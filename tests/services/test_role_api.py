"""The server in role api (`sandlot serve --role api`): the whole public API, with calls,
builds' import checks and housekeeping going to the workers of the registry (here real HTTP
servers that speak the internal API, tests/services/fake_worker.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandlot.app import create_app
from sandlot.domain.errors import ClusterSetupInvalid
from sandlot.domain.models import Version
from sandlot.domain.states import VersionState
from sandlot.services import cluster_wire as wire
from sandlot.services.remote_pool import RemotePool
from sandlot.storage.functions import FunctionRepo, VersionRepo
from tests.conftest import (
    POSTGRES_URL,
    Api,
    make_settings,
    open_api,
)
from tests.envs.wheelkit import write_wheel
from tests.services.fake_worker import DROP, SECRET, FakeWorker, dead_url, info, register

HELLO = {"main.py": "def handler(event, context):\n    return {'hello': event}\n"}


@pytest.fixture
async def api_role(tmp_path: Path, postgres_url: str) -> AsyncIterator[tuple[Api, FakeWorker]]:
    links = tmp_path / "links"
    links.mkdir()
    write_wheel(str(links), "alpha", "1.0")
    worker = FakeWorker(id="node-a:run")
    await worker.start()
    try:
        async with open_api(
            tmp_path / "data",
            postgres_url,
            role="api",
            cluster_secret=SECRET.decode(),
            find_links=[str(links)],
        ) as api:
            pool = api.runtime.pool
            assert isinstance(pool, RemotePool)
            await register(api.runtime.database, info(worker.id, worker.url))
            await pool.registry.refresh()
            yield api, worker
    finally:
        await worker.close()


async def test_deploy_checks_the_import_on_a_worker_and_calls_go_there(
    api_role: tuple[Api, FakeWorker],
) -> None:
    api, worker = api_role
    deployed = await api.deploy("hello", HELLO)
    assert deployed.status_code == 201, deployed.text
    await api.runtime.builder.drain()  # a busy machine may finish the import check later

    prepares = [s for s in worker.seen if s.path == wire.PREPARE_PATH]
    assert len(prepares) == 1 and prepares[0].signature_problem is None
    spec = prepares[0].head["spec"]
    version = await _version(api, spec["namespace_id"], "hello")
    assert version.state is VersionState.READY, version.error
    assert spec["function_name"] == "hello" and len(spec["code_sha256"]) == 64

    answer = await api.invoke("hello", {"n": 1})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"worker": worker.id}
    invokes = [s for s in worker.seen if s.path == wire.INVOKE_PATH]
    assert [s.head["spec"]["version"] for s in invokes] == [1]
    assert invokes[0].payload == b'{"n":1}'


async def test_a_build_stores_the_lock_for_the_worker_and_installs_nothing_here(
    api_role: tuple[Api, FakeWorker],
) -> None:
    api, worker = api_role
    uses_alpha = {
        "main.py": "import alpha\ndef handler(event, context):\n    return 1\n",
        "requirements.txt": "alpha\n",
    }
    stored_at_prepare: list[str | None] = []

    async def read_the_lock(head: dict[str, Any]) -> None:
        version = await _version(api, head["spec"]["namespace_id"], "uses-alpha")
        stored_at_prepare.append(version.lock_text)

    worker.on_prepare = read_the_lock
    assert (await api.deploy("uses-alpha", uses_alpha)).status_code == 201
    await api.runtime.builder.drain()

    (prepare,) = [s for s in worker.seen if s.path == wire.PREPARE_PATH]
    env_key = prepare.head["spec"]["env_key"]
    version = await _version(api, prepare.head["spec"]["namespace_id"], "uses-alpha")
    assert version.state is VersionState.READY, version.error
    assert env_key and version.env_key == env_key
    # The worker installs from the lock stored with the version: there before its prepare.
    (lock_text,) = stored_at_prepare
    assert lock_text is not None and "alpha==1.0" in lock_text
    assert lock_text == version.lock_text
    assert await api.runtime.builder.store.get(env_key) is None  # not installed here


async def _version(api: Api, namespace_id: str, name: str) -> Version:
    async with api.runtime.database.sessions() as session:
        function = await FunctionRepo(session).get(namespace_id, name)
        return await VersionRepo(session).get(function, 1)


async def test_a_lost_worker_is_a_502_and_no_worker_a_503(
    api_role: tuple[Api, FakeWorker],
) -> None:
    api, worker = api_role
    assert (await api.deploy("hello", HELLO)).status_code == 201
    await api.runtime.builder.drain()  # a busy machine may finish the import check later
    worker.invoke = DROP
    lost = await api.invoke("hello", {})
    assert lost.status_code == 502, lost.text
    assert lost.json()["error"] == "WorkerLost"
    assert worker.id in lost.json()["detail"]["message"]

    await worker.close()  # and nobody else registered: the port is closed now
    none = await api.invoke("hello", {})
    assert none.status_code == 503, none.text
    assert none.json()["error"] == "NoWorkerAvailable"
    assert none.headers["Retry-After"] == "1"


async def test_role_api_claims_no_async_work_and_reports_the_workers(
    api_role: tuple[Api, FakeWorker],
) -> None:
    api, _worker = api_role
    assert api.runtime.async_runner is None
    assert (await api.client.get("/readyz")).status_code == 200
    pool = (await api.client.get("/api/v1/pool")).json()
    assert (pool["memory"]["max_mb"], pool["instances"]["max"]) == (2048, 8)  # its worker
    metrics = await api.client.get("/metrics")
    assert metrics.status_code == 200 and "sandlot_" in metrics.text


def test_role_api_refuses_sqlite_and_a_missing_secret(tmp_path: Path) -> None:
    sqlite = make_settings(tmp_path / "a", None, role="api", cluster_secret=SECRET.decode())
    with pytest.raises(ClusterSetupInvalid, match="needs PostgreSQL"):
        create_app(sqlite)
    no_secret = make_settings(tmp_path / "b", POSTGRES_URL, role="api")
    with pytest.raises(ClusterSetupInvalid, match="SANDLOT_CLUSTER_SECRET"):
        create_app(no_secret)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


async def test_role_api_is_not_ready_until_a_worker_heartbeats(
    tmp_path: Path, postgres_url: str
) -> None:
    async with open_api(
        tmp_path / "data", postgres_url, role="api", cluster_secret=SECRET.decode()
    ) as api:
        pool = api.runtime.pool
        assert isinstance(pool, RemotePool)
        waiting = await api.client.get("/readyz")
        assert waiting.status_code == 503, waiting.text
        assert waiting.json()["status"] == "not ready"
        assert any("no live worker" in p for p in waiting.json()["problems"]), waiting.json()

        await register(api.runtime.database, info("node-b:run", dead_url()))
        await pool.registry.refresh()
        ready = await api.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["problems"] == []

        # A worker silent past worker_stale_s counts as gone again.
        silent = datetime.now(UTC) - timedelta(seconds=api.settings.worker_stale_s + 60)
        await register(api.runtime.database, info("node-b:run", dead_url(), heartbeat_at=silent))
        await pool.registry.refresh()
        assert (await api.client.get("/readyz")).status_code == 503
