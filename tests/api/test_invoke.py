"""Invoking through the real app: results, the four named failures, bad events, history."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sandlot.config import SandboxMode
from tests.conftest import Api, open_api

ECHO = {"main.py": "def handler(event, context):\n    return {'event': event}\n"}
FAILING = {
    "main.py": (
        "import logging, os, sys, time\n"
        "def handler(event, context):\n"
        "    kind = event['kind']\n"
        "    print('about to', kind)\n"
        "    if kind == 'raise':\n"
        "        raise ValueError('bad value')\n"
        "    if kind == 'sleep':\n"
        "        time.sleep(30)\n"
        "    if kind == 'crash':\n"
        "        os._exit(3)\n"
        "    if kind == 'memory':\n"
        "        hog = []\n"
        "        while True:\n"
        "            hog.append(bytearray(16 * 1024 * 1024))\n"
        "    if kind == 'log':\n"
        "        logging.getLogger('fn').warning('a warning')\n"
        "        print('to stderr', file=sys.stderr)\n"
        "    return {'ok': kind}\n"
    )
}


async def test_result_and_headers(api: Api) -> None:
    await api.deploy("echo", ECHO)
    first = await api.invoke("echo", {"a": [1, 2]})
    assert first.status_code == 200
    assert first.json() == {"event": {"a": [1, 2]}}
    assert first.headers["x-sandlot-version"] == "1"
    assert first.headers["x-sandlot-cold-start"] == "true"
    assert float(first.headers["x-sandlot-duration-ms"]) > 0
    assert "handler;dur=" in first.headers["server-timing"]
    second = await api.invoke("echo", "text")
    assert second.headers["x-sandlot-cold-start"] == "false"
    assert second.json() == {"event": "text"}
    empty = await api.invoke("echo")
    assert empty.json() == {"event": None}


async def test_function_error_carries_type_message_traceback(api: Api) -> None:
    await api.deploy("failing", FAILING)
    response = await api.invoke("failing", {"kind": "raise"})
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "FunctionError"
    assert body["detail"]["exception_type"] == "ValueError"
    assert body["detail"]["message"] == "bad value"
    assert "main.py" in body["detail"]["traceback"]
    assert response.headers["x-sandlot-error"] == "FunctionError"
    record = (await api.client.get(f"/api/v1/invocations/{body['detail']['invocation_id']}")).json()
    assert record["state"] == "failed"
    assert record["error"]["exception_type"] == "ValueError"
    assert "about to raise" in record["log_excerpt"]


async def test_timeout_crash_and_memory_are_distinct_and_recoverable(api: Api) -> None:
    await api.deploy("failing", FAILING, timeout_s="1", memory_mb="128")
    timed_out = await api.invoke("failing", {"kind": "sleep"})
    assert (timed_out.status_code, timed_out.json()["error"]) == (504, "FunctionTimedOut")
    crashed = await api.invoke("failing", {"kind": "crash"})
    assert (crashed.status_code, crashed.json()["error"]) == (502, "FunctionCrashed")
    oom = await api.invoke("failing", {"kind": "memory"})
    assert (oom.status_code, oom.json()["error"]) == (507, "FunctionOutOfMemory")
    after = await api.invoke("failing", {"kind": "fine"})
    assert after.status_code == 200 and after.json() == {"ok": "fine"}
    states = {
        item["state"]
        for item in (
            await api.client.get("/api/v1/invocations", params={"function": "failing"})
        ).json()["items"]
    }
    assert states == {"timed_out", "failed", "out_of_memory", "succeeded"}


async def test_bad_events(api: Api) -> None:
    await api.deploy("echo", ECHO)
    not_json = await api.client.post(
        "/api/v1/functions/echo/invoke",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and not_json.json()["error"] == "InvalidEvent"
    too_big = await api.client.post(
        "/api/v1/functions/echo/invoke",
        content=b'"' + b"x" * (api.settings.max_event_bytes + 1) + b'"',
    )
    assert too_big.status_code == 413 and too_big.json()["error"] in (
        "EventTooLarge",
        "PayloadTooLarge",
    )
    missing_version = await api.invoke("echo", version=7)
    assert (
        missing_version.status_code == 404 and missing_version.json()["error"] == "VersionNotFound"
    )
    bad_version = await api.client.post("/api/v1/functions/echo/invoke?version=zero")
    assert bad_version.status_code == 422


async def test_logs_are_captured_per_invocation(api: Api) -> None:
    await api.deploy("failing", FAILING)
    logged = await api.invoke("failing", {"kind": "log"})
    quiet = await api.invoke("failing", {"kind": "quiet"})
    first = (
        await api.client.get(
            f"/api/v1/invocations/{logged.headers['x-sandlot-invocation-id']}/logs"
        )
    ).text
    assert "about to log" in first and "a warning" in first and "to stderr" in first
    second = (
        await api.client.get(f"/api/v1/invocations/{quiet.headers['x-sandlot-invocation-id']}/logs")
    ).text
    assert "a warning" not in second and "about to quiet" in second


async def test_invocation_records_and_pagination(api: Api) -> None:
    await api.deploy("echo", ECHO)
    ids = [(await api.invoke("echo", i)).headers["x-sandlot-invocation-id"] for i in range(5)]
    page = (await api.client.get("/api/v1/invocations", params={"limit": 3})).json()
    assert [item["id"] for item in page["items"]] == ids[::-1][:3]
    rest = (
        await api.client.get(
            "/api/v1/invocations", params={"limit": 3, "cursor": page["next_cursor"]}
        )
    ).json()
    assert [item["id"] for item in rest["items"]] == ids[::-1][3:]
    assert rest["next_cursor"] is None
    record = (await api.client.get(f"/api/v1/invocations/{ids[0]}")).json()
    assert record["result"] == {"event": 0}
    assert record["cold_start"] is True and record["state"] == "succeeded"
    assert set(record["timings"]) >= {"queue_ms", "start_ms", "handler_ms", "total_ms"}
    assert (await api.client.get("/api/v1/invocations/nope")).status_code == 404
    bad_state = await api.client.get("/api/v1/invocations", params={"state": "exploded"})
    assert bad_state.status_code == 422


async def test_concurrent_invocations_all_answer(api: Api) -> None:
    await api.deploy("echo", ECHO)
    responses = await asyncio.gather(*(api.invoke("echo", i) for i in range(8)))
    assert sorted(r.json()["event"] for r in responses) == list(range(8))


async def test_metrics_count_invocations(api: Api) -> None:
    await api.deploy("echo", ECHO)
    await api.invoke("echo", 1)
    text = (await api.client.get("/metrics")).text
    assert 'sandlot_invocations_total{function="echo",outcome="succeeded"} 1.0' in text
    assert 'sandlot_cold_starts_total{function="echo"} 1.0' in text
    assert 'sandlot_instances{function="echo"} 1.0' in text
    for phase in ("queue", "start", "fork", "layers", "handler"):
        assert f'sandlot_invocation_phase_seconds_count{{phase="{phase}"}} 1.0' in text, phase
    charged = next(line for line in text.splitlines() if line.startswith("sandlot_memory_charged"))
    assert float(charged.split()[1]) > 128  # the instance's 128 MB and its zygote's imports
    ready = (await api.client.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["insecure"] is (api.settings.sandbox is SandboxMode.INSECURE_DEV)


async def test_insecure_dev_mode_says_so(tmp_path: Path, database_url: str) -> None:
    async with open_api(tmp_path / "data", database_url, sandbox=SandboxMode.INSECURE_DEV) as api:
        ready = (await api.client.get("/readyz")).json()
        assert ready["insecure"] is True and "WITHOUT isolation" in ready["warning"]


async def test_a_warm_invoke_reads_nothing_from_the_database(api: Api) -> None:
    from sqlalchemy import event

    await api.deploy("echo", ECHO)
    assert (await api.invoke("echo", 1)).status_code == 200  # fills the key and version caches
    selects: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    engine = api.runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for i in range(5):
            assert (await api.invoke("echo", i)).json() == {"event": i}
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert selects == []
