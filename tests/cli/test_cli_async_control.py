"""`sandlot invoke --async`, `sandlot invocations wait`, `list --state dead`, `redrive` and
`discard`, against a real server whose runner runs the calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, function_folder, unique
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow

ECHO = "def handler(event, context):\n    return {'echo': event}\n"
CRASHES = "import os\ndef handler(event, context):\n    os._exit(3)\n"


def test_invoke_async_then_wait_prints_the_result(live_server: LiveServer, tmp_path: Path) -> None:
    cli = Cli(live_server, tmp_path)
    name = unique("queued")
    cli.ok("deploy", str(function_folder(tmp_path, ECHO)), "--name", name)
    queued = cli.json(
        "invoke", name, "--async", "-d", '{"n": 1}', "--idempotency-key", "k1", "--json"
    )
    assert queued["state"] == "queued" and queued["trigger"] == "async"
    again = cli.ok("invoke", name, "--async", "--idempotency-key", "k1")
    assert again.split()[0] == queued["id"]  # the first call, not another
    waited = cli.run("invocations", "wait", queued["id"], "--timeout", "60")
    assert waited.returncode == 0, waited.stderr
    assert '"echo"' in waited.stdout and '"n": 1' in waited.stdout
    unknown = cli.run("invocations", "wait", "01JZZZZZZZZZZZZZZZZZZZZZZZ")
    assert unknown.returncode == 1 and "InvocationNotFound" in unknown.stderr


def test_dead_letters_are_listed_redriven_and_discarded(
    live_server: LiveServer, tmp_path: Path
) -> None:
    cli = Cli(live_server, tmp_path)
    name = unique("crashes")
    cli.ok("deploy", str(function_folder(tmp_path, CRASHES)), "--name", name)
    first = cli.ok("invoke", name, "--async").split()[0]
    second = cli.ok("invoke", name, "--async").split()[0]
    for invocation_id in (first, second):
        waited = cli.run("invocations", "wait", invocation_id, "--timeout", "120")
        assert waited.returncode == 1, waited.stdout + waited.stderr
        assert "dead" in waited.stderr and "FunctionCrashed" in waited.stderr
    listed = cli.json("invocations", "list", "--state", "dead", "-f", name, "--json")
    assert {item["id"] for item in listed["items"]} == {first, second}

    redriven = cli.json("invocations", "redrive", first, "--json")
    assert redriven["state"] == "queued" and redriven["attempt"] == 0
    assert cli.run("invocations", "wait", first, "--timeout", "120").returncode == 1
    assert cli.json("invocations", "redrive", "--function", name, "--all", "--json") == {
        "redriven": 2
    }
    for invocation_id in (first, second):
        assert cli.run("invocations", "wait", invocation_id, "--timeout", "120").returncode == 1
    assert cli.json("invocations", "discard", first, "--json") == {"discarded": 1}
    assert cli.json("invocations", "discard", "--function", name, "--all", "--json") == {
        "discarded": 1
    }
    assert cli.json("invocations", "list", "--state", "dead", "-f", name, "--json")["items"] == []
    not_dead = cli.run("invocations", "redrive", "01JZZZZZZZZZZZZZZZZZZZZZZZ")
    assert not_dead.returncode == 1 and "InvocationNotFound" in not_dead.stderr
    usage = cli.run("invocations", "redrive", "--all")
    assert usage.returncode == 2
