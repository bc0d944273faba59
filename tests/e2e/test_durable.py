"""Nothing accepted is lost: `kill -9` of a real `sandlot serve` under load, and SIGTERM with a
call running past the grace period. On a SQLite file and a PostgreSQL database of the test's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server, zip_bytes
from tests.e2e.test_server import _descendants

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
ECHO = {"main.py": "def handler(event, context):\n    print('n', event)\n    return event\n"}
SLEEPER = {
    "main.py": "import time\n"
    "def handler(event, context):\n    time.sleep(event)\n    return 'woke'\n"
}
# Without a journal every record answered after the last reader's flush would be lost: the
# background flush is made too rare to save any of them by luck.
RARE_FLUSHES = {"SANDLOT_RECORD_FLUSH_INTERVAL_S": "3600", "SANDLOT_RECORD_BATCH_SIZE": "100000"}


def _deploy(server: LiveServer, name: str, files: dict[str, str], **fields: str) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/functions",
        headers=HEADERS,
        data={"name": name, **fields},
        files={"code": ("c.zip", zip_bytes(files), "application/zip")},
        timeout=60,
    )
    assert response.status_code == 201, response.text


def _invocations(server: LiveServer, **params: str) -> list[dict[str, object]]:
    """Every invocation the server lists, following its cursor."""
    items: list[dict[str, object]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "200", **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{server.url}/api/v1/invocations", headers=HEADERS, params=query).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _wait_running(server: LiveServer, count: int) -> list[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = _invocations(server, state="running")
        if len(running) >= count:
            return [str(item["id"]) for item in running]
        time.sleep(0.05)  # the calls are being started; nothing to wait on instead
    raise AssertionError(f"fewer than {count} calls listed as running")


class Load:
    """Callers invoking one function over and over, keeping the ids of the answered calls."""

    def __init__(self, server: LiveServer, name: str, callers: int) -> None:
        self.url = f"{server.url}/api/v1/functions/{name}/invoke"
        self.answered: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._call, args=(n,)) for n in range(callers)]

    def _call(self, caller: int) -> None:
        with httpx.Client(headers=HEADERS, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                try:
                    response = client.post(self.url, json={"caller": caller, "n": n})
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 200:
                    self.answered.append(response.headers["x-sandlot-invocation-id"])
                n += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def _hanging(server: LiveServer, name: str, count: int, seconds: int) -> list[threading.Thread]:
    def call() -> None:
        with contextlib.suppress(httpx.TransportError):  # the server is killed under it
            httpx.post(
                f"{server.url}/api/v1/functions/{name}/invoke",
                headers=HEADERS,
                json=seconds,
                timeout=seconds + 30,
            )

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _kill_9(server: LiveServer) -> None:
    """SIGKILL the server, then the function processes it leaves behind."""
    leftovers = _descendants(server.process.pid)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _written_end(data: bytes) -> int:
    """Where the frames (4-byte length, 4-byte CRC, payload) of a segment end."""
    offset = 0
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        if length == 0:
            break
        offset += 8 + length
    return offset


def _tear_the_tail(journal_dir: Path) -> None:
    """Append half a frame to the newest segment that holds entries, as a kill in the
    middle of a write would leave it."""
    for path in sorted(journal_dir.glob("*.journal"), reverse=True):
        end = _written_end(path.read_bytes())
        if end:
            with path.open("r+b") as handle:
                handle.seek(end)
                handle.write((4000).to_bytes(4, "big") + b"\x12\x34\x56\x78" + b'{"kind":"fin')
            return
    raise AssertionError("the journal holds no entries")


@pytest.fixture
def servers(tmp_path: Path, database_url: str) -> Iterator[list[LiveServer]]:
    """Servers the test starts, all on one data dir and one database; stopped at the end."""
    started: list[LiveServer] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            stop_server(server)


def _start(servers: list[LiveServer], data_dir: Path, url: str, **env: str) -> LiveServer:
    server = start_server(data_dir, extra_env={"SANDLOT_DATABASE_URL": url, **env})
    servers.append(server)
    return server


def test_kill_9_under_load_loses_no_answered_call_and_names_calls_in_flight(
    tmp_path: Path, database_url: str, servers: list[LiveServer]
) -> None:
    data_dir = tmp_path / "data"
    server = _start(servers, data_dir, database_url, **RARE_FLUSHES)
    _deploy(server, "echo", ECHO)
    _deploy(server, "sleeper", SLEEPER, timeout_s="300")
    hanging = _hanging(server, "sleeper", 2, 240)
    in_flight = _wait_running(server, 2)  # a reader: this also flushes what came before

    with Load(server, "echo", callers=4) as load:
        deadline = time.monotonic() + 60
        while len(load.answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)  # the callers run; the kill comes in the middle of their calls
        assert len(load.answered) >= 300, "the load did not get its answers"
        _kill_9(server)
    for thread in hanging:
        thread.join(30)
    answered = list(load.answered)
    _tear_the_tail(data_dir / "journal")
    old_segments = set((data_dir / "journal").glob("*.journal"))

    server = _start(servers, data_dir, database_url)
    recorded = {str(item["id"]): item for item in _invocations(server)}
    missing = [i for i in answered if i not in recorded]
    assert not missing, f"{len(missing)} of {len(answered)} answered calls were lost"
    assert all(recorded[i]["state"] == "succeeded" for i in answered)
    listed = _invocations(server, function="echo")
    assert len(listed) == len({item["id"] for item in listed})  # none written twice
    for invocation_id in in_flight:
        crashed = recorded[invocation_id]
        assert crashed["state"] == "failed"
        assert crashed["error"]["kind"] == "ServerCrashed"  # type: ignore[index]
    assert _invocations(server, state="running") == []
    assert not old_segments & set((data_dir / "journal").glob("*.journal"))  # all committed


def test_sigterm_past_the_grace_answers_503_and_records_the_call_cancelled(
    tmp_path: Path, database_url: str, servers: list[LiveServer]
) -> None:
    data_dir = tmp_path / "data"
    server = _start(servers, data_dir, database_url, SANDLOT_SHUTDOWN_GRACE_S="1")
    _deploy(server, "sleeper", SLEEPER, timeout_s="300")
    answers: list[httpx.Response] = []

    def call() -> None:
        answers.append(
            httpx.post(
                f"{server.url}/api/v1/functions/sleeper/invoke",
                headers=HEADERS,
                json=120,
                timeout=60,
            )
        )

    caller = threading.Thread(target=call)
    caller.start()
    (invocation_id,) = _wait_running(server, 1)
    server.process.terminate()
    caller.join(60)
    assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)

    (answer,) = answers
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"] == "ServiceUnavailable"
    assert body["detail"]["invocation_id"] == invocation_id
    assert "shut down" in body["detail"]["message"]

    server = _start(servers, data_dir, database_url)
    record = httpx.get(f"{server.url}/api/v1/invocations/{invocation_id}", headers=HEADERS).json()
    assert record["state"] == "cancelled"
    assert record["error"]["kind"] == "ServiceUnavailable"
