"""A worker node in the test's process: a version deployed by a real server (so its code and
lock are in the database), then a pool, a node and its internal app on a data dir of their
own, driven over ASGI with signed requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from sandlot.api.internal import InternalApp
from sandlot.config import Settings
from sandlot.domain import cluster_auth
from sandlot.domain.models import Principal, Role
from sandlot.envs import BuildOptions, EnvironmentStore
from sandlot.sandbox.factory import make_starter
from sandlot.services import cluster_wire as wire
from sandlot.services.archives import ArchiveLimits
from sandlot.services.code import CodeStore
from sandlot.services.worker_node import Materializer, WorkerNode
from sandlot.storage.db import Database
from sandlot.storage.namespaces import NamespaceRepo
from sandlot.worker.interface import VersionSpec
from sandlot.worker.pool import RuntimePool
from tests.conftest import make_settings, open_api

SECRET = "s" * 40


async def deploy_spec(
    data_dir: Path, database_url: str, name: str, files: dict[str, str], **overrides: object
) -> Any:
    """Deploy through a real server (role all), and the ready version's spec on the wire."""
    async with open_api(data_dir, database_url, **overrides) as api:
        answer = await api.deploy(name, files)
        assert answer.status_code in (200, 201, 202), answer.text
        await api.runtime.builder.drain()
        async with api.runtime.database.sessions() as session:
            namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        system = Principal(
            key_id="sandlot", namespace_id=namespace.id, namespace=namespace.name, role=Role.ADMIN
        )
        spec: VersionSpec = await api.runtime.catalog.resolve(system, name, None)
        return wire.spec_to_wire(spec)


@dataclass
class Node:
    node: WorkerNode
    pool: RuntimePool
    settings: Settings
    client: httpx.AsyncClient
    database: Database

    async def post(
        self, path: str, body: bytes, *, signed: bool = True, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = dict(headers or {})
        if signed:
            sent.update(cluster_auth.sign(SECRET.encode(), "POST", path, body))
        return await self.client.post(path, content=body, headers=sent)

    async def post_json(self, path: str, data: Any) -> httpx.Response:
        return await self.post(path, orjson.dumps(data))

    async def invoke(
        self, spec: dict[str, Any], event: bytes, invocation_id: str, *, others_left: bool = False
    ) -> httpx.Response:
        head: dict[str, Any] = {"spec": spec, "invocation_id": invocation_id, "call": {}}
        if others_left:
            head["others_left"] = True
        return await self.post(wire.INVOKE_PATH, wire.frame(head, event))


@asynccontextmanager
async def worker_node(
    data_dir: Path, database_url: str, *, egress_problem: str | None = None, **overrides: object
) -> AsyncIterator[Node]:
    settings = make_settings(data_dir, database_url, cluster_secret=SECRET, **overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(database_url)
    pool = RuntimePool(make_starter(settings), settings)
    code = CodeStore(
        settings.code_dir.resolve(),
        ArchiveLimits(settings.max_unpacked_bytes, settings.max_archive_files),
    )
    envs = await EnvironmentStore.open(settings.envs_dir, BuildOptions.from_settings(settings))
    node = WorkerNode(
        worker_id="w-test:1",
        url="http://127.0.0.1:1",
        pool=pool,
        materializer=Materializer(database, code, envs),
        egress_problem=egress_problem,
    )
    app = InternalApp(node, secret=SECRET.encode(), max_event_bytes=settings.max_event_bytes)
    await pool.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://worker.test", timeout=60
        ) as client:
            yield Node(node, pool, settings, client, database)
    finally:
        await pool.close(1.0)
        await database.dispose()
