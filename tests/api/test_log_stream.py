"""`GET /functions/{name}/logs/stream` on a real server (SQLite and PostgreSQL) with real
sandboxes: lines arrive live, a resume misses none, other namespaces get a 404, and a reader
that stops reading is dropped while the invokes go on."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandlot.domain.models import Role
from sandlot.storage.db import make_engine, make_sessionmaker
from tests.api.tenancy import bearer, key_in
from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server, zip_bytes

STREAM = "/api/v1/functions/talker/logs/stream"
TALKER = {
    "main.py": "def handler(event, context):\n"
    "    print('line', event['n'], 'x' * event.get('pad', 0))\n"
    "    return event['n']\n"
}


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    env = {"SANDLOT_DATABASE_URL": database_url, "SANDLOT_LOG_STREAM_QUEUE": "4"}
    server = start_server(tmp_path / "data", env)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
async def client(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url, headers=bearer(ADMIN_KEY), timeout=60) as c:
        deployed = await c.post(
            "/api/v1/functions",
            data={"name": "talker"},
            files={"code": ("code.zip", zip_bytes(TALKER), "application/zip")},
        )
        assert deployed.status_code == 201, deployed.text
        yield c


async def _invoke(client: httpx.AsyncClient, n: int, pad: int = 0) -> str:
    answer = await client.post("/api/v1/functions/talker/invoke", json={"n": n, "pad": pad})
    assert answer.status_code == 200, answer.text
    return answer.headers["X-Sandlot-Invocation-Id"]


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, data) per Server-Sent Event; comments skipped."""
    name, data = "message", ""
    async for line in lines:
        if line == "":
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data += line.removeprefix("data: ")


Events = AsyncIterator[tuple[str, dict[str, Any]]]


async def _take(events: Events, count: int) -> list[tuple[str, dict[str, Any]]]:
    got: list[tuple[str, dict[str, Any]]] = []
    while len(got) < count and (not got or got[-1][0] != "end"):
        got.append(await anext(events))
    return got


def _read(stream: httpx.Response) -> Events:
    return _events(stream.aiter_lines())


async def test_lines_arrive_live(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", STREAM) as stream:
        events = _read(stream)
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        ids = [await _invoke(client, n) for n in range(3)]
        got = await _take(events, 3)

    assert [name for name, _ in got] == ["invocation"] * 3
    assert [data["id"] for _, data in got] == ids
    assert [data["logs"].strip() for _, data in got] == ["line 0", "line 1", "line 2"]
    first = got[0][1]
    assert first["state"] == "succeeded" and first["version"] == 1 and first["cold_start"]
    assert not got[1][1]["cold_start"] and got[1][1]["duration_ms"] > 0


async def test_a_resume_misses_nothing(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", STREAM) as stream:
        events = _read(stream)
        ids = [await _invoke(client, n) for n in range(2)]
        seen = await _take(events, 1)
    assert seen[0][1]["id"] == ids[0]
    ids += [await _invoke(client, n) for n in range(2, 4)]  # while nobody listens

    headers = {"Last-Event-ID": ids[0]}
    async with client.stream("GET", STREAM, headers=headers) as stream:
        events = _read(stream)
        replayed = await _take(events, 3)
        ids.append(await _invoke(client, 4))  # live again, after the replay
        live = await _take(events, 1)

    assert [data["id"] for _, data in replayed + live] == ids[1:]
    assert [data["logs"].strip() for _, data in replayed + live] == [
        f"line {n}" for n in range(1, 5)
    ]

    async with client.stream("GET", STREAM, params={"after": ids[2], "follow": "false"}) as s:
        events = _read(s)
        rest = await _take(events, 10)
    assert [data.get("id") for _, data in rest[:-1]] == ids[3:]
    assert rest[-1] == ("end", {"reason": "replay_done", "last_id": ids[-1]})


async def test_another_namespace_gets_a_404(client: httpx.AsyncClient, database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        _, rival = await key_in(make_sessionmaker(engine), "rival", Role.OWNER)
    finally:
        await engine.dispose()
    answer = await client.get(STREAM, headers=rival)
    assert answer.status_code == 404
    assert answer.json()["error"] == "FunctionNotFound"
    missing = await client.get("/api/v1/functions/nobody/logs/stream")
    assert missing.status_code == 404


async def test_the_stream_ends_when_the_function_is_deleted(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", STREAM) as stream:
        events = _read(stream)
        await _invoke(client, 0)
        assert (await _take(events, 1))[0][0] == "invocation"
        assert (await client.delete("/api/v1/functions/talker")).status_code == 204
        end = await _take(events, 1)
    assert end[0][0] == "end" and end[0][1]["reason"] == "function_deleted"


async def test_a_reader_that_stops_reading_is_dropped(
    client: httpx.AsyncClient, live: LiveServer
) -> None:
    """The server's queue for this reader holds 4 (`SANDLOT_LOG_STREAM_QUEUE`); a reader
    that never reads lets the socket buffers fill, then the queue: it is dropped, and every
    invoke meanwhile is answered."""
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as reader:
        request = (
            f"GET {STREAM} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ADMIN_KEY}\r\n\r\n"
        )
        reader.sendall(request.encode())
        reader.settimeout(30)
        received = b""
        while b"\r\n\r\n" not in received:  # the headers: the server has subscribed it
            received += reader.recv(4096)
        for n in range(60):
            # ~12 MB in all: past the socket buffers (4 MiB at most here)
            await _invoke(client, n, pad=200_000)
        while b"event: end" not in received:
            chunk = reader.recv(1 << 20)
            assert chunk, "the server closed the stream without an end event"
            received += chunk
    tail = received[received.index(b"event: end") :].split(b"\n")[1]
    assert json.loads(tail.removeprefix(b"data: "))["reason"] == "too_slow"


async def test_a_stream_does_not_hold_up_shutdown(
    client: httpx.AsyncClient, live: LiveServer
) -> None:
    async with client.stream("GET", STREAM) as stream:
        events = _read(stream)
        await _invoke(client, 0)
        assert (await _take(events, 1))[0][0] == "invocation"
        live.process.terminate()
        end = await _take(events, 1)
    assert end[0] == ("end", {"reason": "server_stopping", "last_id": end[0][1]["last_id"]})
    live.process.wait(timeout=30)  # the stream ended, so nothing keeps Uvicorn waiting
    assert "Finished server process" in live.log_path.read_text(errors="replace")
