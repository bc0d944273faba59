"""Invocation history through the real app: calls in flight, and following by cursor."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Api

SLEEPER = {
    "main.py": "import time\n"
    "def handler(event, context):\n    time.sleep(event or 0)\n    return event\n"
}


async def _listed(api: Api, **params: str) -> dict[str, Any]:
    response = await api.client.get("/api/v1/invocations", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_a_call_is_listed_running_while_it_runs(api: Api) -> None:
    assert (await api.deploy("sleeper", SLEEPER)).status_code == 201
    call = asyncio.create_task(api.invoke("sleeper", 3))
    running: list[dict[str, Any]] = []
    for _ in range(600):
        running = (await _listed(api, state="running"))["items"]
        if running or call.done():
            break
        await asyncio.sleep(0.01)  # the call is starting; nothing to wait on instead
    assert not call.done(), "the call ended before it was ever listed"
    assert [item["function"] for item in running] == ["sleeper"]
    answer = await call
    assert answer.status_code == 200
    (record,) = (await _listed(api))["items"]
    assert record["id"] == running[0]["id"] == answer.headers["x-sandlot-invocation-id"]
    assert record["state"] == "succeeded"
    assert (await _listed(api, state="running"))["items"] == []


async def test_after_lists_oldest_first_from_just_after_an_id(api: Api) -> None:
    assert (await api.deploy("sleeper", SLEEPER)).status_code == 201
    ids = []
    for _ in range(5):
        ids.append((await api.invoke("sleeper", 0)).headers["x-sandlot-invocation-id"])

    everything = await _listed(api, after="")
    assert [item["id"] for item in everything["items"]] == ids
    first = await _listed(api, after=ids[0], limit="2")
    assert [item["id"] for item in first["items"]] == ids[1:3]
    rest = await _listed(api, after=str(first["next_cursor"]), limit="2")
    assert [item["id"] for item in rest["items"]] == ids[3:5]
    assert rest["next_cursor"] is None

    both = await api.client.get("/api/v1/invocations", params={"after": "", "cursor": ids[2]})
    assert both.status_code == 400
    assert both.json()["error"] == "InvalidInput"
