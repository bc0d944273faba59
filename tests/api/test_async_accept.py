"""Accepting an asynchronous call: `Prefer: respond-async` answers 202 only after its
`queued` row is committed, and an Idempotency-Key names the first call. On SQLite and
PostgreSQL, through the real app. (What runs queued calls is tested in test_async_runner.)"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Api

ECHO = {"main.py": "def handler(event, context):\n    return event\n"}
ASYNC = {"Prefer": "respond-async", "Content-Type": "application/json"}


async def _queue(api: Api, event: object, **headers: str) -> httpx.Response:
    return await api.client.post(
        "/api/v1/functions/echo/invoke",
        content=httpx.Request("POST", "/", json=event).content,
        headers={**ASYNC, **headers},
    )


async def _read(api: Api, location: str) -> dict[str, Any]:
    answer = await api.client.get(location)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_a_queued_call_is_committed_before_its_202(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    answer = await _queue(api, {"n": 1})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert answer.headers["location"] == f"/api/v1/invocations/{body['id']}"
    assert answer.headers["preference-applied"] == "respond-async"
    assert body["trigger"] == "async"
    assert body["max_attempts"] == 3
    stored = await _read(api, answer.headers["location"])
    assert stored["id"] == body["id"]
    assert stored["event"] == '{"n":1}' or stored["event"] == '{"n": 1}'


async def test_an_idempotency_key_names_the_first_call(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    first = await _queue(api, {"n": 1}, **{"Idempotency-Key": "order-17"})
    again = await _queue(api, {"n": 2}, **{"Idempotency-Key": "order-17"})
    other = await _queue(api, {"n": 3}, **{"Idempotency-Key": "order-18"})
    assert first.status_code == again.status_code == other.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["x-sandlot-idempotent-replay"] == "true"
    assert other.json()["id"] != first.json()["id"]


async def test_an_idempotency_key_over_256_bytes_is_refused(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    answer = await _queue(api, {}, **{"Idempotency-Key": "k" * 257})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidIdempotencyKey"
