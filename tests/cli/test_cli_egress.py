"""`sandlot egress show|set|reset` and `deploy/config --allow-egress/--egress` against a
real server (insecure-dev, which stores policies and says it does not enforce them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import HELLO, LiveServer, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", {"SANDLOT_SANDBOX": "insecure-dev"})
    try:
        yield server
    finally:
        stop_server(server)


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


def test_egress_bound_and_policy_flags(dev_server: LiveServer, tmp_path: Path) -> None:
    folder = tmp_path / "fn"
    folder.mkdir()
    (folder / "main.py").write_text(HELLO["main.py"])
    shown = _sandlot(dev_server, "egress", "show")
    assert shown.returncode == 0, shown.stderr
    assert "egress bound: none" in shown.stdout and "not enforced" in shown.stdout

    deploy = ("deploy", str(folder), "--name", "caller", "--allow-egress", "api.test:443")
    refused = _sandlot(dev_server, *deploy)
    assert refused.returncode == 1 and "EgressNotAllowed" in refused.stderr
    assert "'api.test:443' exceeds" in refused.stderr or "allows no network" in refused.stderr

    bound = _sandlot(dev_server, "egress", "set", "default", "api.test", "10.0.0.0/8", "--json")
    assert bound.returncode == 0, bound.stderr
    assert json.loads(bound.stdout)["bound"] == ["api.test", "10.0.0.0/8"]

    made = _sandlot(dev_server, *deploy)
    assert made.returncode == 0, made.stderr
    assert "NOT enforced" in made.stderr  # said on every deploy with a policy here
    got = _sandlot(dev_server, "functions", "get", "caller")
    assert "network  api.test:443" in got.stdout

    wider = _sandlot(dev_server, "functions", "update", "caller", "--egress", "internet")
    assert wider.returncode == 1 and "'internet' exceeds" in wider.stderr
    both = _sandlot(dev_server, "config", "caller", "--egress", "none", "--allow-egress", "x.test")
    assert both.returncode != 0
    bad = _sandlot(dev_server, "config", "caller", "--allow-egress", "api.test:0")
    assert bad.returncode == 1 and "InvalidEgressPolicy" in bad.stderr
    none = _sandlot(dev_server, "config", "caller", "--egress", "none", "--json")
    assert none.returncode == 0, none.stderr
    assert json.loads(none.stdout)["egress"] == ["none"]

    reset = _sandlot(dev_server, "egress", "reset", "default")
    assert reset.returncode == 0 and "server's default" in reset.stdout
