"""`sandlot test-events` against a real server process: save from --data and --file, list,
invoke with a saved event, delete; and the client's version diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandlot.client.http import SandlotClient
from tests.cli.test_cli_e2e import Cli, function_folder
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

SOURCE = """
def handler(event, context):
    return {"got": event}
"""


def test_save_list_and_delete_through_the_cli(tmp_path: Path, database_url: str) -> None:
    env = {"SANDLOT_DATABASE_URL": database_url} if database_url.startswith("postgres") else {}
    server = start_server(tmp_path / "data", extra_env=env)
    try:
        cli = Cli(server, tmp_path)

        def ok(*args: str) -> str:
            result = cli.run(*args)
            assert result.returncode == 0, f"{args}:\n{result.stderr}"
            return result.stdout

        ok("deploy", str(function_folder(tmp_path, SOURCE)), "-n", "app")
        ok("test-events", "save", "app", "inline", "--data", '{"a": 1}')
        event_file = tmp_path / "event.json"
        event_file.write_text('{"from": "file", "n": [1, 2]}')
        ok("test-events", "save", "app", "from file", "--file", str(event_file))
        listed = json.loads(ok("test-events", "list", "app", "--json"))["items"]
        assert [(item["name"], item["event"]) for item in listed] == [
            ("from file", {"from": "file", "n": [1, 2]}),
            ("inline", {"a": 1}),
        ]
        assert "from file" in ok("test-events", "list", "app")
        both = cli.run("test-events", "save", "app", "x", "--data", "1", "--file", "f")
        assert both.returncode != 0 and "exactly one" in both.stderr
        bad = cli.run("test-events", "save", "app", "x", "--data", "{nope")
        assert bad.returncode != 0 and "not valid JSON" in bad.stderr
        ok("test-events", "delete", "app", "inline")
        gone = cli.run("test-events", "delete", "app", "inline")
        assert gone.returncode != 0 and "TestEventNotFound" in gone.stderr
        with SandlotClient(server.url, server.api_key) as client:
            assert [item["name"] for item in client.list_test_events("app")] == ["from file"]
            diff = client.version_diff("app", 1)
        assert diff["against"] is None and [f["status"] for f in diff["files"]] == ["added"]
    finally:
        stop_server(server)
