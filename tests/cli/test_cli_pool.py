"""`sandlot pool` against a real server: a function just called has an instance there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, function_folder, unique
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


def test_pool_shows_the_instance_of_a_call(live_server: LiveServer, tmp_path: Path) -> None:
    cli = Cli(live_server, tmp_path)
    name = unique("pooled")
    source = "def handler(event, context):\n    return 1\n"
    cli.ok("deploy", str(function_folder(tmp_path, source)), "--name", name)
    cli.ok("invoke", name)

    answer = cli.json("pool", "--json")
    [row] = [row for row in answer["versions"] if row["function"] == name]
    assert row["instances"] >= 1 and answer["instances"]["total"] >= 1
    assert answer["memory"]["charged_mb"] <= answer["memory"]["max_mb"]

    lines = cli.ok("pool").splitlines()
    assert lines[0].startswith("sandbox")
    assert any(line.startswith("instances") for line in lines)
    assert any(name in line for line in lines if line.startswith("default"))
