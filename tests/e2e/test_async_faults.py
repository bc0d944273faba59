"""The queue loses nothing and runs nothing twice over: `kill -9` of a real `sandlot serve`
with queued and running asynchronous calls (SQLite and PostgreSQL), and a claimer stopped
past its lease (SIGSTOP, then SIGCONT: two servers on one PostgreSQL), whose late result
is refused.

Each run of the handler leaves a file named by a token of its own in a directory the event
names (functions run insecure-dev here, as plain processes that can write there), so the
test counts runs per call and knows which run's result was kept."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server, zip_bytes
from tests.e2e.test_durable import _kill_9

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
# One file per run: `<invocation id>.<token>` holding the start time; the token is returned.
WORKER = {
    "main.py": "import json, os, time, uuid\n"
    "def handler(event, context):\n"
    "    token = uuid.uuid4().hex\n"
    "    path = os.path.join(event['dir'], context.invocation_id + '.' + token)\n"
    "    with open(path, 'w') as f:\n"
    "        f.write(json.dumps(time.time()))\n"
    "    time.sleep(event['sleep'])\n"
    "    return token\n"
}
FINAL = {"succeeded", "failed", "timed_out", "out_of_memory", "cancelled", "dead"}
PLAIN = {"SANDLOT_SANDBOX": "insecure-dev", "SANDLOT_ASYNC_POLL_INTERVAL_S": "0.2"}


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    started: list[LiveServer] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            with_signal(server, signal.SIGCONT)
            stop_server(server)


def with_signal(server: LiveServer, sig: signal.Signals) -> None:
    os.kill(server.process.pid, sig)


def _start(servers: list[LiveServer], data_dir: Path, url: str, **env: str) -> LiveServer:
    server = start_server(data_dir, extra_env={"SANDLOT_DATABASE_URL": url, **PLAIN, **env})
    servers.append(server)
    return server


def _deploy(server: LiveServer, name: str, **fields: str) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/functions",
        headers=HEADERS,
        data={"name": name, **fields},
        files={"code": ("c.zip", zip_bytes(WORKER), "application/zip")},
        timeout=60,
    )
    assert response.status_code == 201, response.text


def _queue(server: LiveServer, name: str, event: object) -> str:
    answer = _CLIENT.post(
        f"{server.url}/api/v1/functions/{name}/invoke",
        headers={"Prefer": "respond-async"},
        json=event,
    )
    assert answer.status_code == 202, answer.text
    invocation_id: str = answer.json()["id"]
    return invocation_id


# One client (a new one per poll is slow), keeping no connection open: servers are killed.
_CLIENT = httpx.Client(
    headers=HEADERS, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
)


def _get(server: LiveServer, invocation_id: str) -> dict[str, Any]:
    answer = _CLIENT.get(f"{server.url}/api/v1/invocations/{invocation_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _all(server: LiveServer) -> dict[str, dict[str, Any]]:
    """Every call of `work` (the tests queue fewer than a page)."""
    answer = _CLIENT.get(
        f"{server.url}/api/v1/invocations", params={"function": "work", "limit": "200"}
    )
    assert answer.status_code == 200, answer.text
    return {item["id"]: item for item in answer.json()["items"]}


def _until(condition: Any, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)  # polling another process's state; there is nothing to wait on


def _runs(directory: Path, invocation_id: str) -> dict[str, float]:
    """token -> start time of each run of the call."""
    return {
        path.name.split(".", 1)[1]: json.loads(path.read_text() or "0")
        for path in directory.glob(f"{invocation_id}.*")
    }


@pytest.mark.timeout(300)
def test_kill_9_with_queued_and_running_calls_loses_none_and_counts_attempts(
    tmp_path: Path, database_url: str, servers: list[LiveServer]
) -> None:
    data_dir, runs = tmp_path / "data", tmp_path / "runs"
    runs.mkdir()
    server = _start(servers, data_dir, database_url)
    _deploy(server, "work", max_concurrency="8")
    accepted = [_queue(server, "work", {"dir": str(runs), "sleep": 2}) for _ in range(24)]

    def some_running() -> bool:
        return sum(1 for item in _all(server).values() if item["state"] == "running") >= 3

    _until(some_running, "calls running")
    states = {i: item["state"] for i, item in _all(server).items()}
    _kill_9(server)
    assert "queued" in states.values(), "the kill should find calls still queued"

    server = _start(servers, data_dir, database_url)

    def all_ended() -> bool:
        found = _all(server)
        return all(found[i]["state"] in FINAL for i in accepted)

    _until(all_ended, "every accepted call to end")
    crashed = 0
    ended = _all(server)
    for invocation_id in accepted:
        body = ended[invocation_id]
        ran = _runs(runs, invocation_id)
        assert body["state"] == "succeeded", (body["error"], body["attempts"])
        assert body["result"] in ran  # the result is one run's, written once
        assert 1 <= len(ran) <= body["attempt"] <= body["max_attempts"]
        assert len(body["attempts"]) == body["attempt"] - 1
        kinds = {attempt["error"]["kind"] for attempt in body["attempts"]}
        assert kinds <= {"ServerCrashed"}
        crashed += bool(kinds)
    assert crashed >= 3  # the calls running at the kill were attempts, and counted


@pytest.mark.timeout(300)
def test_a_claimer_stopped_past_its_lease_has_its_late_result_refused(
    tmp_path: Path, database_url: str, servers: list[LiveServer]
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("two servers share one queue only on PostgreSQL (SQLite: tests/api)")
    runs = tmp_path / "runs"
    runs.mkdir()
    # A short lease: the pool's queue time 1 s + the import budget 10 s + timeout 5 s + 1 s.
    short = {"SANDLOT_QUEUE_TIMEOUT_S": "1", "SANDLOT_ASYNC_LEASE_GRACE_S": "1"}
    first = _start(servers, tmp_path / "a", database_url, **short)
    _deploy(first, "work", timeout_s="5")
    invocation_id = _queue(first, "work", {"dir": str(runs), "sleep": 3})
    _until(lambda: len(_runs(runs, invocation_id)) == 1, "the first server's run to start")
    with_signal(first, signal.SIGSTOP)
    try:
        second = _start(servers, tmp_path / "b", database_url, **short)
        _until(lambda: _get(second, invocation_id)["state"] == "succeeded", "the second run")
    finally:
        with_signal(first, signal.SIGCONT)
    body = _get(second, invocation_id)
    ran = _runs(runs, invocation_id)
    assert len(ran) == 2 and body["attempt"] == 2
    late, kept = sorted(ran, key=ran.__getitem__)
    assert body["result"] == kept
    assert [a["error"]["kind"] for a in body["attempts"]] == ["LeaseExpired"]

    def refused() -> bool:
        text = first.log_path.read_text(errors="replace")
        return "ended late" in text or "no longer this server's" in text

    _until(refused, "the first server to find its attempt superseded")
    again = _get(first, invocation_id)
    assert (again["state"], again["attempt"], again["result"]) == ("succeeded", 2, kept)
    assert late != kept
