"""`sandlot serve` as a real subprocess: first start, restart, SIGTERM."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import HELLO, start_server, stop_server, zip_bytes

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> set[int]:
    """Every process whose parent chain reaches `pid` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_until_busy(url: str, headers: dict[str, str]) -> None:
    """Block until the server reports an instance running an invocation."""
    for _ in range(600):
        if "sandlot_instances_busy 1.0" in httpx.get(f"{url}/metrics", headers=headers).text:
            return
        threading.Event().wait(0.01)
    raise AssertionError("no instance became busy")


def test_first_start_writes_a_private_admin_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "SANDLOT_BOOTSTRAP_API_KEY"}
    process = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "db", "upgrade", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr
    server = start_server(data_dir, extra_env={"SANDLOT_BOOTSTRAP_API_KEY": ""})
    try:
        key_file = data_dir / "admin.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        log = server.log_path.read_text()
        assert key in log  # printed once, on the first start
        assert "sandbox layers on this host" in log and "seccomp" in log
        listed = httpx.get(
            f"{server.url}/api/v1/functions", headers={"Authorization": f"Bearer {key}"}
        )
        assert listed.status_code == 200
    finally:
        stop_server(server)


def test_restart_keeps_functions_versions_and_history(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    headers = {"Authorization": f"Bearer {server.api_key}"}
    try:
        created = httpx.post(
            f"{server.url}/api/v1/functions",
            headers=headers,
            data={"name": "hello"},
            files={"code": ("c.zip", zip_bytes(HELLO), "application/zip")},
        )
        assert created.status_code == 201, created.text
        invoked = httpx.post(
            f"{server.url}/api/v1/functions/hello/invoke", headers=headers, json={"name": "Ada"}
        )
        assert invoked.json() == {"hello": "Ada"}
        invocation_id = invoked.headers["x-sandlot-invocation-id"]
    finally:
        assert stop_server(server)
    server = start_server(data_dir)
    try:
        assert httpx.get(f"{server.url}/api/v1/functions/hello", headers=headers).status_code == 200
        record = httpx.get(f"{server.url}/api/v1/invocations/{invocation_id}", headers=headers)
        assert record.status_code == 200 and record.json()["result"] == {"hello": "Ada"}
        again = httpx.post(f"{server.url}/api/v1/functions/hello/invoke", headers=headers, json={})
        assert again.json() == {"hello": "world"}
    finally:
        stop_server(server)


def test_sigterm_lets_inflight_finish_and_leaves_no_process(tmp_path: Path) -> None:
    slow = {
        "main.py": "import time\n"
        "def handler(event, context):\n    time.sleep(1)\n    return 'done'\n"
    }
    server = start_server(tmp_path / "data")
    headers = {"Authorization": f"Bearer {server.api_key}"}
    httpx.post(
        f"{server.url}/api/v1/functions",
        headers=headers,
        data={"name": "slow"},
        files={"code": ("c.zip", zip_bytes(slow), "application/zip")},
    ).raise_for_status()
    httpx.post(f"{server.url}/api/v1/functions/slow/invoke", headers=headers, timeout=30)  # warm
    with httpx.Client(timeout=30) as client:
        request = client.build_request(
            "POST", f"{server.url}/api/v1/functions/slow/invoke", headers=headers
        )
        # Send the call, then SIGTERM while it is in flight.
        result: dict[str, httpx.Response] = {}
        thread = threading.Thread(target=lambda: result.setdefault("r", client.send(request)))
        thread.start()
        pids = _descendants(server.process.pid)
        assert pids, "the warm instance should be a child of the server"
        _wait_until_busy(server.url, headers)
        server.process.terminate()
        thread.join(30)
    assert result["r"].status_code == 200 and result["r"].json() == "done"
    assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Finished server process" in server.log_path.read_text()
    assert not [pid for pid in pids if _alive(pid)]
