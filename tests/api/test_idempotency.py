"""An Idempotency-Key on an asynchronous call: a repeat within 24 hours is the first call,
two at once make one row, and a key is 1 to 256 bytes of printable ASCII. On SQLite and
PostgreSQL, through the real app."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from sandlot.storage.tables import InvocationRow
from tests.api.queue_rows import age
from tests.conftest import Api

ECHO = {"main.py": "def handler(event, context):\n    return event\n"}
ASYNC = {"Prefer": "respond-async", "Content-Type": "application/json"}


async def _queue(api: Api, key: str, event: object = None, name: str = "echo") -> httpx.Response:
    return await api.client.post(
        f"/api/v1/functions/{name}/invoke",
        content=httpx.Request("POST", "/", json=event).content,
        headers={**ASYNC, "Idempotency-Key": key},
    )


async def _rows_with(api: Api, key: str) -> int:
    async with api.runtime.database.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(InvocationRow)
            .where(InvocationRow.idempotency_key == key)
        )
    return int(count or 0)


async def test_a_repeat_within_a_day_is_the_first_call_even_once_it_ran(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    first = await _queue(api, "order-1", {"n": 1})
    assert first.status_code == 202, first.text
    ran = await api.client.get(first.headers["location"], params={"wait": 30})
    assert ran.json()["state"] == "succeeded"
    again = await _queue(api, "order-1", {"n": 2})
    assert again.status_code == 202, again.text
    assert again.headers["x-sandlot-idempotent-replay"] == "true"
    assert again.headers["location"] == first.headers["location"]
    body: dict[str, Any] = again.json()
    assert body["id"] == first.json()["id"]
    assert body["state"] == "succeeded" and body["result"] == {"n": 1}  # the first, as it is now
    assert await _rows_with(api, "order-1") == 1


async def test_a_key_older_than_a_day_names_a_new_call(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    first = await _queue(api, "order-2")
    await age(api, first.json()["id"], hours=24.5)
    again = await _queue(api, "order-2")
    assert again.status_code == 202, again.text
    assert again.json()["id"] != first.json()["id"]
    assert "x-sandlot-idempotent-replay" not in again.headers
    assert await _rows_with(api, "order-2") == 1  # the old call let go of the key


async def test_two_at_once_with_one_key_make_one_call(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    answers = await asyncio.gather(*(_queue(api, "order-3", {"n": n}) for n in range(8)))
    assert {answer.status_code for answer in answers} == {202}, [a.text for a in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert await _rows_with(api, "order-3") == 1
    replays = [a for a in answers if a.headers.get("x-sandlot-idempotent-replay") == "true"]
    assert len(replays) == 7


async def test_a_key_is_one_functions(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    assert (await api.deploy("other", ECHO)).status_code == 201
    here = await _queue(api, "order-4")
    there = await _queue(api, "order-4", name="other")
    assert here.status_code == there.status_code == 202
    assert here.json()["id"] != there.json()["id"]


async def test_a_key_is_1_to_256_bytes_of_printable_ascii(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201
    assert (await _queue(api, "k" * 256)).status_code == 202
    for bad in ("k" * 257, "x" * 1000, "tab\there"):
        answer = await _queue(api, bad)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "InvalidIdempotencyKey"
    assert await _rows_with(api, "k" * 257) == 0


async def test_a_sync_call_with_a_key_past_the_bound_is_refused(api: Api) -> None:
    """A sync call does not use its key, but the header's documented bound holds for it too."""
    assert (await api.deploy("echo", ECHO)).status_code == 201
    answer = await api.client.post(
        "/api/v1/functions/echo/invoke", content=b"null", headers={"Idempotency-Key": "k" * 257}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidIdempotencyKey"
    fine = await api.client.post(
        "/api/v1/functions/echo/invoke", content=b"null", headers={"Idempotency-Key": "k" * 256}
    )
    assert fine.status_code == 200, fine.text
