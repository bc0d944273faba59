"""What a caller does with an asynchronous call after its 202: wait for its end, redrive or
discard its dead letter. On SQLite and PostgreSQL, through the real app.

Most tests here stop the app's runner and move rows the way any process's runner would, by
writing them (tests/api/queue_rows.py), so that a call stays where the test put it; the last
ones run calls with the real runner, end to end."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.queue_rows import age, end_as, make_dead, row_count
from tests.conftest import Api, open_api

ECHO = {"main.py": "def handler(event, context):\n    return event\n"}
CRASHES = {"main.py": "import os\ndef handler(event, context):\n    os._exit(3)\n"}
ASYNC = {"Prefer": "respond-async", "Content-Type": "application/json"}
FAST = {"async_poll_interval_s": 0.1, "async_backoff_base_s": 0.05, "async_backoff_cap_s": 0.2}


def _no_runner(api: Api) -> None:
    """Nothing in this app claims queued calls any more: they stay as the test leaves them."""
    runner = api.runtime.async_runner
    assert runner is not None
    runner.stop()


async def _queue(api: Api, name: str = "echo", **headers: str) -> dict[str, Any]:
    answer = await api.client.post(
        f"/api/v1/functions/{name}/invoke", content=b'{"n": 1}', headers={**ASYNC, **headers}
    )
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _get(api: Api, invocation_id: str, **params: Any) -> httpx.Response:
    return await api.client.get(f"/api/v1/invocations/{invocation_id}", params=params)


async def test_waiting_on_an_unknown_id_is_a_404_at_once(api: Api) -> None:
    for params in ({}, {"wait": 5}):
        answer = await _get(api, "01JZZZZZZZZZZZZZZZZZZZZZZZ", **params)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "InvocationNotFound"


async def test_a_wait_past_its_bound_answers_the_call_as_it_is(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    _no_runner(api)
    queued = await _queue(api)
    answer = await _get(api, queued["id"], wait=0.2)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "queued"


async def test_a_wait_ends_when_another_process_ends_the_call(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    _no_runner(api)
    queued = await _queue(api)
    waiting = asyncio.create_task(_get(api, queued["id"], wait=30))
    # The waiter holds no connection while it sleeps, so this write is not blocked by it.
    await end_as(api, queued["id"], "succeeded", result='{"n": 1}')
    answer = await waiting
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "succeeded"
    assert answer.json()["result"] == {"n": 1}


async def test_a_wait_on_a_finished_sync_call_answers_at_once(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    _no_runner(api)
    called = await api.invoke("echo", {"n": 2})
    assert called.status_code == 200, called.text
    answer = await _get(api, called.headers["x-sandlot-invocation-id"], wait=30)
    assert answer.json()["state"] == "succeeded"


async def test_a_wait_longer_than_the_query_allows_is_refused(api: Api) -> None:
    answer = await _get(api, "01JZZZZZZZZZZZZZZZZZZZZZZZ", wait=301)
    assert answer.status_code == 422


async def test_a_dead_letter_is_redriven_with_its_attempts_kept(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    _no_runner(api)
    queued = await _queue(api)
    await make_dead(api, queued["id"])
    dead = await api.client.get("/api/v1/invocations", params={"state": "dead"})
    assert [item["id"] for item in dead.json()["items"]] == [queued["id"]]
    answer = await api.client.post(f"/api/v1/invocations/{queued['id']}/redrive")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["state"] == "queued" and body["attempt"] == 0 and body["error"] is None
    assert [a["attempt"] for a in body["attempts"]] == [1, 2, 3]
    assert body["attempts"][-1]["error"]["kind"] == "FunctionCrashed"
    assert body["attempts"][-1]["redriven_at"]
    again = await api.client.post(f"/api/v1/invocations/{queued['id']}/redrive")
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "InvocationNotDead"
    events = (await api.client.get("/api/v1/audit", params={"action": "invocation."})).json()
    assert [e["action"] for e in events["items"]] == ["invocation.redrive"]
    assert events["items"][0]["target"] == f"invocation:{queued['id']}"


async def test_only_a_dead_letter_is_redriven_or_discarded(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    _no_runner(api)
    called = await api.invoke("echo", {"n": 1})
    sync_id = called.headers["x-sandlot-invocation-id"]
    for verb in ("redrive", "discard"):
        answer = await api.client.post(f"/api/v1/invocations/{sync_id}/{verb}")
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] == "InvocationNotDead"
        assert answer.json()["detail"]["state"] == "succeeded"
        unknown = await api.client.post(f"/api/v1/invocations/01JZZZZZZZZZZZZZZZZZZZZZZZ/{verb}")
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "InvocationNotFound"


async def test_all_of_a_functions_dead_letters_are_redriven(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    _no_runner(api)
    assert (await api.deploy("other", ECHO)).status_code == 201
    dead = [(await _queue(api))["id"] for _ in range(3)]
    waiting = (await _queue(api))["id"]  # queued, not dead: left alone
    elsewhere = (await _queue(api, "other"))["id"]
    for invocation_id in [*dead, elsewhere]:
        await make_dead(api, invocation_id)
    answer = await api.client.post("/api/v1/functions/echo/dead-letters/redrive")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"redriven": 3}
    for invocation_id in dead:
        assert (await _get(api, invocation_id)).json()["attempt"] == 0
    assert (await _get(api, elsewhere)).json()["state"] == "dead"
    assert (await _get(api, waiting)).json()["attempts"] == []
    unknown = await api.client.post("/api/v1/functions/nobody/dead-letters/redrive")
    assert unknown.status_code == 404 and unknown.json()["error"] == "FunctionNotFound"


async def test_a_discarded_dead_letter_is_gone_and_its_key_free(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    _no_runner(api)
    first = await _queue(api, **{"Idempotency-Key": "order-1"})
    await make_dead(api, first["id"])
    answer = await api.client.post(f"/api/v1/invocations/{first['id']}/discard")
    assert answer.status_code == 204, answer.text
    assert (await _get(api, first["id"])).status_code == 404
    again = await _queue(api, **{"Idempotency-Key": "order-1"})
    assert again["id"] != first["id"]
    events = (await api.client.get("/api/v1/audit", params={"action": "invocation."})).json()
    assert [e["action"] for e in events["items"]] == ["invocation.discard"]


async def test_all_of_a_functions_dead_letters_are_discarded(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    _no_runner(api)
    dead = [(await _queue(api))["id"] for _ in range(2)]
    kept = (await _queue(api))["id"]
    for invocation_id in dead:
        await make_dead(api, invocation_id)
    answer = await api.client.post("/api/v1/functions/echo/dead-letters/discard")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"discarded": 2}
    listed = await api.client.get("/api/v1/invocations", params={"state": "dead"})
    assert listed.json()["items"] == []
    assert (await _get(api, kept)).status_code == 200
    assert await row_count(api) == 1


async def test_a_wait_returns_the_runners_result(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    queued = await _queue(api)
    answer = await _get(api, queued["id"], wait=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "succeeded"
    assert answer.json()["result"] == {"n": 1}


async def test_a_redriven_dead_letter_runs_again_with_every_attempt_kept(
    tmp_path: Any, database_url: str
) -> None:
    async with open_api(tmp_path / "d", database_url, **FAST) as api:
        assert (await api.deploy("crashes", CRASHES)).status_code == 201
        queued = await _queue(api, "crashes")
        dead = (await _get(api, queued["id"], wait=30)).json()
        assert dead["state"] == "dead", dead
        assert [a["attempt"] for a in dead["attempts"]] == [1, 2, 3]
        listed = await api.client.get(
            "/api/v1/invocations", params={"state": "dead", "function": "crashes"}
        )
        assert [item["id"] for item in listed.json()["items"]] == [queued["id"]]
        redriven = await api.client.post(f"/api/v1/invocations/{queued['id']}/redrive")
        assert redriven.status_code == 202, redriven.text
        again = (await _get(api, queued["id"], wait=30)).json()
        assert again["state"] == "dead", again
        assert [a["attempt"] for a in again["attempts"]] == [1, 2, 3, 1, 2, 3]
        assert "redriven_at" in again["attempts"][2]
        assert "redriven_at" not in again["attempts"][5]


async def test_a_dead_letter_older_than_its_max_event_age_runs_when_redriven(api: Api) -> None:
    """The usual redrive comes after a fix, hours later: the event's age counts from the
    redrive, not from the first acceptance (else it would end dead again, unrun)."""
    assert (await api.deploy("echo", ECHO)).status_code == 201
    runner = api.runtime.async_runner
    assert runner is not None
    runner.stop()  # driven by hand below
    queued = await _queue(api)
    await make_dead(api, queued["id"])
    await age(api, queued["id"], hours=7)  # past the default max_event_age_s of 6 hours
    redriven = await api.client.post(f"/api/v1/invocations/{queued['id']}/redrive")
    assert redriven.status_code == 202, redriven.text
    assert await runner.run_once() == 1
    await runner.wait_idle()
    ended = (await _get(api, queued["id"])).json()
    assert ended["state"] == "succeeded", ended
    assert ended["result"] == {"n": 1}
