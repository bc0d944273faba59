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


SLEEPS = {
    "main.py": "import time\n"
    "def handler(event, context):\n    time.sleep(event)\n    return event\n"
}


async def test_the_retry_policy_is_read_set_audited_and_applied_at_accept(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    path = "/api/v1/functions/echo/async-config"
    assert (await api.client.get(path)).json() == {
        "max_attempts": 3,
        "retry_on_error": False,
        "max_event_age_s": 21600,
    }
    changed = await api.client.put(path, json={"max_attempts": 5, "retry_on_error": True})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"max_attempts": 5, "retry_on_error": True, "max_event_age_s": 21600}
    kept = await api.client.put(path, json={"max_event_age_s": 60})
    assert kept.json() == {"max_attempts": 5, "retry_on_error": True, "max_event_age_s": 60}
    for bad in ({"max_attempts": 0}, {"max_attempts": 11}, {"max_event_age_s": 59}):
        refused = await api.client.put(path, json=bad)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "InvalidAsyncConfig"
    missing = await api.client.get("/api/v1/functions/nope/async-config")
    assert missing.status_code == 404
    audit = await api.client.get("/api/v1/audit", params={"action": "function.async_config"})
    events = audit.json()["items"]
    assert len(events) == 2 and events[0]["target"] == "function:echo"
    accepted = await api.client.post("/api/v1/functions/echo/invoke", content=b"1", headers=ASYNC)
    assert accepted.json()["max_attempts"] == 5


async def test_a_raised_exception_is_retried_when_the_policy_says_so(
    tmp_path: Any, database_url: str
) -> None:
    async with open_api(tmp_path / "d", database_url, **FAST) as api:
        assert (await api.deploy("raises", RAISES)).status_code == 201
        put = await api.client.put(
            "/api/v1/functions/raises/async-config",
            json={"max_attempts": 2, "retry_on_error": True},
        )
        assert put.status_code == 200
        body = await ended(api, await queue(api, "raises", None))
        assert body["state"] == "dead", body
        assert [a["error"]["kind"] for a in body["attempts"]] == ["FunctionError"] * 2


async def test_cancel_a_queued_call_and_it_never_runs(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    runner = api.runtime.async_runner
    assert runner is not None
    await runner.close()  # driven by hand from here: nothing is claimed behind our back
    cancelled_id = await queue(api, "echo", "never")
    kept_id = await queue(api, "echo", "runs")
    answer = await api.client.post(f"/api/v1/invocations/{cancelled_id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "cancelled"
    assert await runner.run_once() == 1
    await runner.wait_idle()
    assert (await ended(api, kept_id))["state"] == "succeeded"
    cancelled = await ended(api, cancelled_id)
    assert cancelled["state"] == "cancelled" and cancelled["attempt"] == 0
    again = await api.client.post(f"/api/v1/invocations/{cancelled_id}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "InvocationNotCancellable"
    done = await api.client.post(f"/api/v1/invocations/{kept_id}/cancel")
    assert done.status_code == 409
    audit = await api.client.get("/api/v1/audit", params={"action": "invocation.cancel"})
    (event,) = audit.json()["items"]
    assert event["target"] == f"invocation:{cancelled_id}"
    assert event["detail"] == {"function": "echo", "was": "queued"}


async def test_cancel_a_running_call_kills_its_instance(api: Api) -> None:
    assert (await api.deploy("sleeps", SLEEPS)).status_code == 201
    invocation_id = await queue(api, "sleeps", 120)
    deadline = time.monotonic() + 60
    while (await api.client.get(f"/api/v1/invocations/{invocation_id}")).json()[
        "state"
    ] != "running":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    while api.runtime.pool.stats().busy == 0:  # the instance has the call
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    answer = await api.client.post(f"/api/v1/invocations/{invocation_id}/cancel")
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"
    while api.runtime.pool.stats().busy or api.runtime.async_runner.running:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the cancelled call's instance still runs"
        await asyncio.sleep(0.05)
    body = (await api.client.get(f"/api/v1/invocations/{invocation_id}")).json()
    assert body["state"] == "cancelled" and body["attempt"] == 1


async def test_a_sync_call_cannot_be_cancelled(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    called = await api.invoke("echo", 1)
    invocation_id = called.headers["X-Sandlot-Invocation-Id"]
    answer = await api.client.post(f"/api/v1/invocations/{invocation_id}/cancel")
    assert answer.status_code == 409 and answer.json()["error"] == "InvocationNotCancellable"
    unknown = await api.client.post(f"/api/v1/invocations/{'0' * 26}/cancel")
    assert unknown.status_code == 404


async def test_sync_calls_are_not_starved_by_a_deep_backlog(
    tmp_path: Any, database_url: str
) -> None:
    async with open_api(tmp_path / "d", database_url, shutdown_grace_s=0.5) as api:
        deployed = await api.deploy("slow", SLEEPS, max_concurrency="4")
        assert deployed.status_code == 201
        for _ in range(200):
            await queue(api, "slow", 0.5)
        runner = api.runtime.async_runner
        assert runner is not None
        deadline = time.monotonic() + 60
        while runner.running < 3:  # the backlog holds its whole share
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        for _ in range(5):
            answer = await api.invoke("slow", 0)
            assert answer.status_code == 200, answer.text
            assert runner.running <= 3  # never more than its share of the 4
