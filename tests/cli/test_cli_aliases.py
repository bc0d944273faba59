"""`sandlot aliases`, `invoke NAME:ALIAS --routing-key`, `rollback` and `history` against a
real server process (on SQLite: tests/api/test_aliases.py covers both databases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, function_folder
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

SOURCE = "def handler(event, context):\n    return {{'v': {n}}}\n"


def test_set_split_call_roll_back_and_read_the_history(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        cli = Cli(server, tmp_path)

        def ok(*args: str) -> str:
            result = cli.run(*args)
            assert result.returncode == 0, f"{args}:\n{result.stderr}"
            return result.stdout

        for number in (1, 2):
            ok("deploy", str(function_folder(tmp_path, SOURCE.format(n=number))), "-n", "hello")
        assert "hello:prod -> v1" in ok("aliases", "set", "hello", "prod", "1")
        assert "v2 50%, v1 50%" in ok("aliases", "set", "hello", "prod", "1=50", "2=50")
        first = json.loads(ok("invoke", "hello:prod", "--routing-key", "alice"))
        again = cli.run("invoke", "hello:prod", "--routing-key", "alice", "-v")
        assert again.returncode == 0 and "alias prod" in again.stderr
        assert json.loads(again.stdout) == first

        bad = cli.run("aliases", "set", "hello", "prod", "1=60", "2=30")
        assert bad.returncode != 0 and "InvalidAliasRoutes" in bad.stderr
        assert cli.run("invoke", "hello:Prod").returncode == 2

        assert "hello:prod -> v1" in ok("rollback", "hello", "--alias", "prod")
        assert json.loads(ok("invoke", "hello:prod")) == {"v": 1}
        assert "hello:latest -> v1" in ok("rollback", "hello")
        nothing = cli.run("rollback", "hello")
        assert nothing.returncode != 0 and "NothingToRollBack" in nothing.stderr
        history = json.loads(ok("history", "hello", "--json"))
        assert [(e["alias"], e["reason"]) for e in history["items"]][:3] == [
            ("latest", "rollback"),
            ("prod", "rollback"),
            ("prod", "set"),
        ]
        table = ok("aliases", "list", "hello")
        assert "latest" in table and "prod" in table
        assert "deleted hello:prod" in ok("aliases", "delete", "hello", "prod")
    finally:
        stop_server(server)
