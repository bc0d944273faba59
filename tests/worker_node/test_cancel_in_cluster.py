"""Cancelling a running asynchronous call in a cluster: the API server (role api) ends the
row, then tells the worker that held the lease, by a signed `kill`, to stop it now. A real
worker (`sandlot.node.assemble`, its internal API on a port of its own) runs the call."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from sandlot.envs import BuildOptions, EnvironmentStore
from sandlot.node import Worker, assemble
from sandlot.sandbox.factory import make_starter
from sandlot.services.remote_pool import RemotePool
from tests.api.test_async_runner import SLEEPS, queue
from tests.conftest import Api, free_port, make_settings, open_api
from tests.worker_node.helpers import SECRET


@contextlib.asynccontextmanager
async def running_worker(data_dir: Path, database_url: str) -> AsyncIterator[Worker]:
    settings = make_settings(
        data_dir,
        database_url,
        cluster_secret=SECRET,
        worker_host="127.0.0.1",
        worker_port=free_port(),
        heartbeat_interval_s=0.2,
        shutdown_grace_s=1.0,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    envs = await EnvironmentStore.open(settings.envs_dir, BuildOptions.from_settings(settings))
    worker = assemble(settings, make_starter(settings), envs)
    listening = asyncio.Event()
    task = asyncio.create_task(worker.run(lambda _url: listening.set()))
    try:
        await asyncio.wait_for(listening.wait(), 60)
        yield worker
    finally:
        worker.request_drain()
        await task


async def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + 60
    while not (check() if callable(check) else check):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def _state(api: Api, invocation_id: str) -> str:
    state: str = (await api.client.get(f"/api/v1/invocations/{invocation_id}")).json()["state"]
    return state


async def test_cancel_in_role_api_kills_the_call_on_its_worker(
    tmp_path: Path, postgres_url: str
) -> None:
    async with (
        open_api(tmp_path / "api", postgres_url, role="api", cluster_secret=SECRET) as api,
        running_worker(tmp_path / "worker", postgres_url) as worker,
    ):
        pool = api.runtime.pool
        assert isinstance(pool, RemotePool)
        await _until(lambda: bool(pool.registry.live()), "the worker never registered")
        # Its timeout far past every deadline here: only a kill ends the call in time.
        assert (await api.deploy("sleeps", SLEEPS, timeout_s="600")).status_code == 201
        invocation_id = await queue(api, "sleeps", 500)
        deadline = time.monotonic() + 60
        while await _state(api, invocation_id) != "running":
            assert time.monotonic() < deadline, "the worker never claimed the call"
            await asyncio.sleep(0.05)
        await _until(lambda: worker.pool.stats().busy == 1, "the instance never got the call")
        # From here only the kill can stop it: the runner makes no more rounds, so it never
        # finds the cancelled row by itself (as when a worker is draining).
        worker.runner.stop()
        await _until(
            lambda: worker.runner._loop_task is None or worker.runner._loop_task.done(),
            "the runner's loop went on",
        )

        # A kill while the row still gives the worker its lease stops nothing (fencing).
        assert await pool.kill(worker.node.worker_id, invocation_id) is False
        assert worker.runner.running == 1
        assert await pool.kill("gone:1", invocation_id) is False  # not in the registry

        answer = await api.client.post(f"/api/v1/invocations/{invocation_id}/cancel")
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "cancelled"
        await _until(
            lambda: worker.runner.running == 0 and worker.pool.stats().busy == 0,
            "the cancelled call still runs on its worker",
        )
        assert await _state(api, invocation_id) == "cancelled"
