"""`sandlot deploy` shows why a version failed to import, and `sandlot config` makes a new
version from the newest one's code with new settings: a real CLI against a real server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, cli, function_folder, unique
from tests.conftest import free_port

pytestmark = pytest.mark.slow
__all__ = ["cli"]  # the fixture

GOOD = """
def handler(event, context):
    return "v1"
"""
# Reads its settings at import, as many modules do: without API_URL it cannot load.
NEEDS_SETTING = """
import os

API_URL = os.environ["API_URL"]

def handler(event, context):
    return {"api": API_URL, "env": {k: v for k, v in os.environ.items() if len(k) == 1}}
"""


def test_a_deploy_that_fails_to_import_prints_the_traceback_and_keeps_latest(
    cli: Cli, tmp_path: Path
) -> None:
    name = unique("broken")
    cli.ok("deploy", str(function_folder(tmp_path, GOOD)), "--name", name)
    broken = function_folder(tmp_path, "import not_installed_dep\nhandler = 1\n")
    failed = cli.run("deploy", str(broken), "--name", name)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"{name}  version 2  failed" in failed.stdout
    assert "Traceback (most recent call last)" in failed.stderr
    assert "ModuleNotFoundError: No module named 'not_installed_dep'" in failed.stderr
    assert json.loads(cli.ok("invoke", name)) == "v1"
    version = cli.json("versions", name, "2", "--json")
    assert version["state"] == "failed" and "not_installed_dep" in version["error"]
    assert cli.json("functions", "get", name, "--json")["latest_version"] == 1
    missing = cli.run("config", unique("nope"), "--memory", "512")
    assert missing.returncode == 1 and "FunctionNotFound" in missing.stderr


@dataclass
class NoServer:
    """Usage errors and help end before the CLI looks for a server."""

    url: str = f"http://127.0.0.1:{free_port()}"
    api_key: str = "unused"


def test_config_refuses_to_do_nothing_and_deploy_says_env_replaces(tmp_path: Path) -> None:
    cli = Cli(NoServer(), tmp_path)
    nothing = cli.run("config", "fn")
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    bad = cli.run("config", "fn", "--env-set", "NOEQUALS")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
    help_text = " ".join(cli.ok("deploy", "--help").split())
    assert "Replaces the whole environment" in help_text


def test_config_makes_a_new_version_from_the_newest_code(cli: Cli, tmp_path: Path) -> None:
    name = unique("cfg")
    folder = function_folder(tmp_path, NEEDS_SETTING)
    first = cli.run("deploy", str(folder), "--name", name, "--env", "A=1", "--env", "B=2")
    assert first.returncode == 1 and "KeyError: 'API_URL'" in first.stderr

    # The fix is configuration only: the newest (failed) version's code, one more variable.
    fixed = cli.run("config", name, "--env-set", "API_URL=https://api.example")
    assert fixed.returncode == 0, fixed.stderr
    assert f"{name}  version 2  ready" in fixed.stdout
    assert json.loads(cli.ok("invoke", name)) == {
        "api": "https://api.example",
        "env": {"A": "1", "B": "2"},
    }

    options = ["--memory", "512", "--timeout", "5", "--handler", "main.handler"]
    options += ["--max-concurrency", "3", "--min-warm", "1", "--keep-alive", "60"]
    options += ["--env-set", "B=3", "--env-set", "C=4", "--env-unset", "A"]
    cli.ok("config", name, *options)
    version = cli.json("versions", name, "3", "--json")
    assert version["state"] == "ready"
    assert version["env"] == {"API_URL": "https://api.example", "B": "3", "C": "4"}
    assert (version["memory_mb"], version["timeout_s"], version["handler"]) == (
        512,
        5,
        "main.handler",
    )
    assert (version["max_concurrency"], version["min_warm"], version["keep_alive_s"]) == (3, 1, 60)
    assert version["code_sha256"] == cli.json("versions", name, "1", "--json")["code_sha256"]
    assert json.loads(cli.ok("invoke", name))["env"] == {"B": "3", "C": "4"}
