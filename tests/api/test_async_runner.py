"""The runner of queued calls, through the real app on SQLite and PostgreSQL: an accepted
call runs and ends with its result; failures are retried by the function's policy and end
dead with every attempt; a late attempt's end is refused."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.conftest import Api, open_api

ECHO = {"main.py": "def handler(event, context):\n    print('got', event)\n    return event\n"}
RAISES = {"main.py": "def handler(event, context):\n    raise ValueError('no')\n"}
CRASHES = {"main.py": "import os\ndef handler(event, context):\n    os._exit(3)\n"}
ASYNC = {"Prefer": "respond-async", "Content-Type": "application/json"}
FAST = {"async_poll_interval_s": 0.1, "async_backoff_base_s": 0.05, "async_backoff_cap_s": 0.2}


async def queue(api: Api, name: str, event: object) -> str:
    answer = await api.client.post(
        f"/api/v1/functions/{name}/invoke",
        content=httpx.Request("POST", "/", json=event).content,
        headers=ASYNC,
    )
    assert answer.status_code == 202, answer.text
    invocation_id: str = answer.json()["id"]
    return invocation_id


async def ended(api: Api, invocation_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """Poll the call until it is in a final state (with a deadline, no timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await api.client.get(f"/api/v1/invocations/{invocation_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body["state"] not in ("queued", "running"):
            return body
        assert time.monotonic() < deadline, f"still {body['state']}: {body}"
        await asyncio.sleep(0.05)


async def test_a_queued_call_runs_and_keeps_its_result(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    invocation_id = await queue(api, "echo", {"n": 7})
    body = await ended(api, invocation_id)
    assert body["state"] == "succeeded", body
    assert body["result"] == {"n": 7}
    assert body["attempt"] == 1
    assert body["trigger"] == "async"
    logs = await api.client.get(f"/api/v1/invocations/{invocation_id}/logs")
    assert "got {'n': 7}" in logs.text


async def test_a_raised_exception_is_not_retried_by_default(
    tmp_path: Any, database_url: str
) -> None:
    async with open_api(tmp_path / "d", database_url, **FAST) as api:
        assert (await api.deploy("raises", RAISES)).status_code == 201
        body = await ended(api, await queue(api, "raises", None))
        assert body["state"] == "dead", body
        assert body["attempt"] == 1
        assert body["error"]["kind"] == "FunctionError"
        assert [a["attempt"] for a in body["attempts"]] == [1]


async def test_a_crash_is_retried_until_the_last_attempt(tmp_path: Any, database_url: str) -> None:
    async with open_api(tmp_path / "d", database_url, **FAST) as api:
        assert (await api.deploy("crashes", CRASHES)).status_code == 201
        body = await ended(api, await queue(api, "crashes", None))
        assert body["state"] == "dead", body
        assert body["attempt"] == 3
        assert body["max_attempts"] == 3
        assert [a["attempt"] for a in body["attempts"]] == [1, 2, 3]
        assert {a["error"]["kind"] for a in body["attempts"]} == {"FunctionCrashed"}
