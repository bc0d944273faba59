"""`sandlot quota show|set` against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


def _sandlot(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
    env.update(SANDLOT_URL=server.url, SANDLOT_API_KEY=server.api_key, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_quota_set_and_show(live_server: LiveServer, tmp_path: Path) -> None:
    del tmp_path
    shown = _sandlot(live_server, "quota", "show")
    assert shown.returncode == 0, shown.stderr
    assert "rate_per_minute" in shown.stdout and "default" in shown.stdout

    changed = _sandlot(
        live_server, "quota", "set", "default", "--functions", "0", "--rate-per-minute", "600"
    )
    assert changed.returncode == 0, changed.stderr
    assert "namespace" in changed.stdout  # the two limits are the namespace's own now

    report = json.loads(_sandlot(live_server, "quota", "show", "default", "--json").stdout)
    assert report["quotas"]["functions"] == {
        "limit": 0,
        "used": 0,
        "unit": "functions",
        "default": False,
    }
    assert report["quotas"]["rate_per_minute"]["limit"] == 600

    back = _sandlot(live_server, "quota", "set", "default", "--functions", "default", "--json")
    assert json.loads(back.stdout)["quotas"]["functions"]["default"] is True

    for bad in (["--functions", "-3"], ["--functions", "many"], []):
        refused = _sandlot(live_server, "quota", "set", "default", *bad)
        assert refused.returncode != 0
    missing = _sandlot(live_server, "quota", "show", "nobody")
    assert missing.returncode == 1
    assert "NamespaceNotFound" in missing.stderr
