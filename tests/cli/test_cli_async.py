"""`sandlot functions async-config` and `sandlot invocations cancel` against a real server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli_e2e import Cli, function_folder, unique
from tests.conftest import ADMIN_KEY, LiveServer

pytestmark = pytest.mark.slow

SLEEPS = "import time\ndef handler(event, context):\n    time.sleep(event)\n    return event\n"


def test_the_retry_policy_is_shown_and_set(live_server: LiveServer, tmp_path: Path) -> None:
    cli = Cli(live_server, tmp_path)
    name = unique("policy")
    cli.ok("deploy", str(function_folder(tmp_path, SLEEPS)), "--name", name)
    shown = cli.json("functions", "async-config", name, "--json")
    assert shown == {"max_attempts": 3, "retry_on_error": False, "max_event_age_s": 21600}
    changed = cli.json(
        "functions", "async-config", name, "--max-attempts", "5", "--retry-on-error", "--json"
    )
    assert changed == {"max_attempts": 5, "retry_on_error": True, "max_event_age_s": 21600}
    assert "max_attempts" in cli.ok("functions", "async-config", name)
    bad = cli.run("functions", "async-config", name, "--max-attempts", "11")
    assert bad.returncode != 0 and "InvalidAsyncConfig" in bad.stderr


def test_cancel_stops_a_running_call(live_server: LiveServer, tmp_path: Path) -> None:
    cli = Cli(live_server, tmp_path)
    name = unique("sleeps")
    cli.ok("deploy", str(function_folder(tmp_path, SLEEPS)), "--name", name)
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as client:
        queued = client.post(
            f"/api/v1/functions/{name}/invoke", json=120, headers={"Prefer": "respond-async"}
        )
        assert queued.status_code == 202, queued.text
        invocation_id = queued.json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/v1/invocations/{invocation_id}").json()["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)  # another process's state; nothing to wait on instead
    assert cli.ok("invocations", "cancel", invocation_id).split() == [invocation_id, "cancelled"]
    again = cli.run("invocations", "cancel", invocation_id)
    assert again.returncode != 0 and "InvocationNotCancellable" in again.stderr
    assert cli.json("invocations", "get", invocation_id, "--json")["state"] == "cancelled"
