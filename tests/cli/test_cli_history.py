"""`sandlot logs` and `sandlot invocations list` after a function was deleted and made again
under the same name: the live one's history only, the old one's on request."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, eventually, function_folder, unique
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(live_server: LiveServer, tmp_path: Path) -> Cli:
    return Cli(live_server, tmp_path)


def _deploy_speaking(cli: Cli, tmp_path: Path, name: str, word: str) -> str:
    """Deploy `name` printing `word`, call it once, wait for its record; its function id."""
    folder = function_folder(
        tmp_path,
        f"""
        def handler(event, context):
            print("{word}")
            return "{word}"
        """,
    )
    cli.ok("deploy", str(folder), "--name", name)
    function_id: str = cli.json("functions", "get", name, "--json")["id"]
    cli.ok("invoke", name)
    eventually(
        lambda: (
            cli.json("invocations", "list", "--function-id", function_id, "--json")["items"] or None
        )
    )
    return function_id


def test_a_name_made_again_starts_a_history_of_its_own(cli: Cli, tmp_path: Path) -> None:
    name = unique("again")
    old_word, new_word = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    old = _deploy_speaking(cli, tmp_path, name, old_word)
    cli.ok("functions", "delete", name, "--yes")
    new = _deploy_speaking(cli, tmp_path, name, new_word)

    live_logs = cli.ok("logs", name)
    listed = cli.json("invocations", "list", "--function", name, "--json")["items"]
    table = cli.ok("invocations", "list", "--function", name)

    assert new_word in live_logs and old_word not in live_logs
    assert [item["function_id"] for item in listed] == [new]
    assert len([line for line in table.splitlines() if name in line]) == 1

    every_log = cli.ok("logs", name, "--include-deleted")
    everything = cli.json("invocations", "list", "-f", name, "--include-deleted", "--json")
    old_only = cli.json("invocations", "list", "--function-id", old, "--json")["items"]
    wide = cli.ok("invocations", "list", "-f", name, "--include-deleted")

    assert every_log.index(old_word) < every_log.index(new_word)  # oldest first
    assert f"function {old}" in every_log and f"function {new}" in every_log
    assert [item["function_id"] for item in everything["items"]] == [new, old]
    assert [item["result"] for item in old_only] == [old_word]
    assert "FUNCTION ID" in wide and old in wide and new in wide


def test_logs_of_a_deleted_function_say_how_to_see_them(cli: Cli, tmp_path: Path) -> None:
    name = unique("gone")
    word = f"gone-{uuid.uuid4().hex}"
    _deploy_speaking(cli, tmp_path, name, word)
    cli.ok("functions", "delete", name, "--yes")

    refused = cli.run("logs", name)
    shown = cli.ok("logs", name, "--include-deleted")

    assert refused.returncode == 1
    assert "FunctionNotFound" in refused.stderr
    assert f"sandlot logs {name} --include-deleted" in refused.stderr
    assert word in shown
