"""A version's import check cut short by `kill -9` of the server runs again on restart: a
version is never left `building`, nor made `ready` unchecked."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server, zip_bytes
from tests.escape.conftest import descendants, still_alive

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
GOOD = "def handler(event, context):\n    return 'v1'\n"
# Slow to import, so that the server can be killed while the check runs.
SLOW_GOOD = "import time\ntime.sleep(3)\n\ndef handler(event, context):\n    return 'v2'\n"
SLOW_BAD = "import time\ntime.sleep(3)\nraise RuntimeError('v2 is broken')\n"


def _code(source: str) -> dict[str, Any]:
    return {"code": ("code.zip", zip_bytes({"main.py": source}), "application/zip")}


def _version(server: LiveServer, name: str, number: int) -> dict[str, Any]:
    """The version, or `{"state": None}` while its deploy has not committed it yet."""
    response = httpx.get(
        f"{server.url}/api/v1/functions/{name}/versions/{number}", headers=HEADERS, timeout=10
    )
    if response.status_code == 404:
        return {"state": None}
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_for_state(server: LiveServer, name: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        version = _version(server, name, 2)
        if version["state"] in states:
            return version
        assert time.monotonic() < deadline, f"{name} v2 stayed {version['state']}"
        time.sleep(0.05)  # the check runs in the server; polling is how a client follows it


def _put_in_background(server: LiveServer, name: str, source: str) -> threading.Thread:
    def put() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
            httpx.put(
                f"{server.url}/api/v1/functions/{name}",
                files=_code(source),
                headers=HEADERS,
                timeout=60,
            )

    thread = threading.Thread(target=put, daemon=True)
    thread.start()
    return thread


def _kill_9(server: LiveServer) -> None:
    """SIGKILL the server, then end what it left running (its sandboxes: ours to stop)."""
    left = descendants(server.process.pid)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    for pid in still_alive(left):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_checks_cut_short_by_kill_9_run_again_on_restart(tmp_path: Path, database_url: str) -> None:
    env = {"SANDLOT_DATABASE_URL": database_url}
    server = start_server(tmp_path / "data", env)
    try:
        for name in ("good", "bad"):
            created = httpx.post(
                f"{server.url}/api/v1/functions",
                data={"name": name},
                files=_code(GOOD),
                headers=HEADERS,
                timeout=60,
            )
            assert created.json()["config"]["state"] == "ready", created.text
        threads = [
            _put_in_background(server, "good", SLOW_GOOD),
            _put_in_background(server, "bad", SLOW_BAD),
        ]
        for name in ("good", "bad"):
            _wait_for_state(server, name, {"building"})
    finally:
        _kill_9(server)
    for thread in threads:
        thread.join(timeout=30)

    server = start_server(tmp_path / "data", env)
    try:
        assert _wait_for_state(server, "good", {"ready", "failed"})["state"] == "ready"
        bad = _wait_for_state(server, "bad", {"ready", "failed"})
        assert bad["state"] == "failed"
        assert "RuntimeError: v2 is broken" in bad["error"]
        for name, answer in (("good", "v2"), ("bad", "v1")):
            invoked = httpx.post(
                f"{server.url}/api/v1/functions/{name}/invoke", headers=HEADERS, timeout=60
            )
            assert invoked.status_code == 200 and invoked.json() == answer, invoked.text
    finally:
        stop_server(server)
