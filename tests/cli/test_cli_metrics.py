"""`sandlot metrics` against a real server: the calls just made are in the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, function_folder, unique
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


def test_metrics_shows_the_calls_made(live_server: LiveServer, tmp_path: Path) -> None:
    cli = Cli(live_server, tmp_path)
    name = unique("measured")
    source = "def handler(event, context):\n    if event:\n        raise ValueError(event)\n"
    cli.ok("deploy", str(function_folder(tmp_path, source)), "--name", name)
    cli.ok("invoke", name)
    cli.run("invoke", name, "--data", '"boom"')  # a function error: exits non-zero

    answer = cli.json("metrics", name, "--window", "24h", "--json")
    assert (answer["bucket_seconds"], len(answer["buckets"])) == (900, 96)
    busy = [bucket for bucket in answer["buckets"] if bucket["invocations"]]
    calls = sum(bucket["invocations"] for bucket in busy)
    kinds = [kind for bucket in busy for kind in bucket["errors_by_kind"]]
    assert calls == 2 and kinds == [{"state": "failed", "kind": "FunctionError", "count": 1}]

    lines = cli.ok("metrics", name).splitlines()
    assert lines[0].split()[:3] == ["START", "CALLS", "ERRORS"]
    assert any("FunctionError 1" in line for line in lines[1:])
    bad = cli.run("metrics", name, "--window", "2d")
    assert bad.returncode != 0
