"""Each invocation keeps its event up to SANDLOT_INVOCATION_EVENT_BYTES, and the history's
filters (version, cold start, a time range) combine with its cursor. Through the real app,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, open_api, zip_bytes

ECHO = {"main.py": "def handler(event, context):\n    return event\n"}


async def _history(api: Api, **params: str) -> list[dict[str, Any]]:
    answer = await api.client.get("/api/v1/invocations", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _one(api: Api, invocation_id: str) -> dict[str, Any]:
    answer = await api.client.get(f"/api/v1/invocations/{invocation_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _echo(api: Api) -> None:
    assert (await api.deploy("echo", ECHO)).status_code == 201


async def test_the_event_is_kept_with_its_record(api: Api) -> None:
    await _echo(api)
    answer = await api.invoke("echo", {"name": "Ada", "n": 1})
    assert answer.status_code == 200, answer.text

    record = await _one(api, answer.headers["X-Sandlot-Invocation-Id"])

    assert json.loads(record["event"]) == {"name": "Ada", "n": 1}
    assert record["event_truncated"] is False
    assert (await _history(api, function="echo"))[0]["event"] == record["event"]


async def test_an_empty_body_is_kept_as_null(api: Api) -> None:
    await _echo(api)
    answer = await api.invoke("echo")

    record = await _one(api, answer.headers["X-Sandlot-Invocation-Id"])

    assert record["event"] == "null"
    assert record["event_truncated"] is False


async def test_an_event_past_the_bound_is_cut_and_flagged(
    tmp_path: Path, database_url: str
) -> None:
    async with open_api(tmp_path / "data", database_url, invocation_event_bytes=16) as api:
        await _echo(api)
        # "é" is two bytes in UTF-8: the bound (16) falls inside the second one.
        event = "abcdefghijklméé" + "x" * 100
        answer = await api.invoke("echo", event)
        assert answer.json() == event  # the function still gets all of it

        record = await _one(api, answer.headers["X-Sandlot-Invocation-Id"])

    assert record["event_truncated"] is True
    assert record["event"] == '"abcdefghijklmé'  # the broken character is left out
    assert len(record["event"].encode()) <= 16


async def test_an_event_at_the_bound_is_whole(tmp_path: Path, database_url: str) -> None:
    async with open_api(tmp_path / "data", database_url, invocation_event_bytes=7) as api:
        await _echo(api)
        answer = await api.invoke("echo", "hello")  # '"hello"': 7 bytes

        record = await _one(api, answer.headers["X-Sandlot-Invocation-Id"])

    assert (record["event"], record["event_truncated"]) == ('"hello"', False)


async def test_a_bound_of_zero_keeps_no_event(tmp_path: Path, database_url: str) -> None:
    async with open_api(tmp_path / "data", database_url, invocation_event_bytes=0) as api:
        await _echo(api)
        answer = await api.invoke("echo", {"secretish": "not kept"})

        record = await _one(api, answer.headers["X-Sandlot-Invocation-Id"])

    assert (record["event"], record["event_truncated"]) == (None, False)


async def test_a_failed_call_keeps_its_event_too(api: Api) -> None:
    files = {"main.py": "def handler(event, context):\n    raise ValueError(event['why'])\n"}
    assert (await api.deploy("fails", files)).status_code == 201
    answer = await api.invoke("fails", {"why": "because"})
    assert answer.status_code == 502

    record = await _one(api, answer.headers["X-Sandlot-Invocation-Id"])

    assert record["state"] == "failed"
    assert json.loads(record["event"]) == {"why": "because"}


# filters


async def _two_versions(api: Api) -> None:
    """echo v1 called twice (cold, then warm), v2 once (cold)."""
    await _echo(api)
    await api.invoke("echo", 1)
    await api.invoke("echo", 2)
    second = {"main.py": "def handler(event, context):\n    return [event]\n"}
    redeployed = await api.client.put(
        "/api/v1/functions/echo",
        files={"code": ("code.zip", zip_bytes(second), "application/zip")},
    )
    assert redeployed.status_code == 200, redeployed.text
    await api.invoke("echo", 3, version=2)


async def test_version_and_cold_start_narrow_the_history(api: Api) -> None:
    await _two_versions(api)

    v1 = await _history(api, function="echo", version="1")
    v2 = await _history(api, function="echo", version="2")
    cold = await _history(api, function="echo", cold_start="true")
    warm = await _history(api, function="echo", cold_start="false")
    warm_v2 = await _history(api, function="echo", version="2", cold_start="false")

    assert [item["event"] for item in v1] == ["2", "1"]
    assert [item["event"] for item in v2] == ["3"]
    assert all(item["cold_start"] for item in cold) and len(cold) >= 2
    assert all(not item["cold_start"] for item in warm)
    assert len(cold) + len(warm) == 3
    assert warm_v2 == []


async def test_a_time_range_narrows_the_history(api: Api) -> None:
    await _two_versions(api)
    every = await _history(api, function="echo")
    middle = datetime.fromisoformat(every[1]["created_at"])

    since = await _history(api, function="echo", since=middle.isoformat())
    until = await _history(api, function="echo", until=middle.isoformat())
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    assert [item["id"] for item in since] == [every[0]["id"], every[1]["id"]]
    assert [item["id"] for item in until] == [every[2]["id"]]
    assert await _history(api, function="echo", since=later) == []


async def test_filters_combine_with_the_cursor(api: Api) -> None:
    await _two_versions(api)
    await api.invoke("echo", 4, version=1)
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params = {"function": "echo", "version": "1", "limit": "1"}
        if cursor:
            params["cursor"] = cursor
        answer = await api.client.get("/api/v1/invocations", params=params)
        body = answer.json()
        pages.append([item["event"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == [["4"], ["2"], ["1"]]


@pytest.mark.parametrize("moment", ["2026-01-01T00:00:00", "0001-01-01T00:00:00+05:00"])
async def test_a_time_without_a_zone_or_out_of_range_is_refused(api: Api, moment: str) -> None:
    answer = await api.client.get("/api/v1/invocations", params={"since": moment})

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidInput"
