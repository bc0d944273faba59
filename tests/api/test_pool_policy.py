"""Pool policy through the app: warm instances kept ready, superseded versions retired,
the concurrency limit answered with 429 and Retry-After."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import HELLO, Api, open_api

SLOW = {
    "main.py": "import time\ndef handler(event, context):\n    time.sleep(event)\n    return 1\n"
}


async def _live(api: Api, name: str) -> int:
    return api.runtime.pool.stats().per_function.get(name, 0)


async def test_min_warm_instances_are_ready_before_the_first_call(api: Api) -> None:
    await api.deploy("warm", HELLO, min_warm="2")
    await api.runtime.activator.drain()
    assert await _live(api, "warm") == 2
    first = await api.invoke("warm")
    assert first.headers["x-sandlot-cold-start"] == "false"


async def test_a_new_version_retires_the_old_ones(api: Api) -> None:
    await api.deploy("fn", HELLO)
    assert (await api.invoke("fn")).status_code == 200
    assert await _live(api, "fn") == 1
    await api.client.put("/api/v1/functions/fn", json={"timeout_s": 5})
    await api.runtime.activator.drain()  # retiring waits for the instance to stop
    assert await _live(api, "fn") == 0  # version 1's idle instance is gone
    again = await api.invoke("fn")
    assert again.headers["x-sandlot-version"] == "2"


async def test_the_concurrency_limit_queues_then_answers_429(
    tmp_path: Path, database_url: str
) -> None:
    async with open_api(tmp_path / "data", database_url, queue_timeout_s=0.2) as api:
        await api.deploy("one-at-a-time", SLOW, max_concurrency="1")
        busy = asyncio.create_task(api.invoke("one-at-a-time", 2))
        while api.runtime.pool.stats().busy == 0:
            await asyncio.sleep(0.01)
        refused = await api.invoke("one-at-a-time", 0)
        assert refused.status_code == 429
        assert refused.json()["error"] == "TooManyRequests"
        assert int(refused.headers["retry-after"]) >= 1
        assert (await busy).status_code == 200
