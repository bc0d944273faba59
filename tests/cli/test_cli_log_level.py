"""`sandlot deploy --log-level` and `sandlot config --log-level` set a function's log level
(Lambda's ApplicationLogLevel): a real CLI against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, cli, function_folder, unique

pytestmark = pytest.mark.slow
__all__ = ["cli"]  # the fixture

LEVEL = """
import logging, os

def handler(event, context):
    return [logging.getLevelName(logging.getLogger().level), os.environ.get("AWS_LAMBDA_LOG_LEVEL")]
"""


def test_deploy_and_config_set_the_log_level(cli: Cli, tmp_path: Path) -> None:
    name = unique("leveled")
    folder = function_folder(tmp_path, LEVEL)
    cli.ok("deploy", str(folder), "--name", name, "--log-level", "debug")
    assert json.loads(cli.ok("invoke", name)) == ["DEBUG", "DEBUG"]
    assert cli.json("versions", name, "1", "--json")["log_level"] == "DEBUG"
    cli.ok("config", name, "--log-level", "ERROR")
    assert json.loads(cli.ok("invoke", name)) == ["ERROR", "ERROR"]
    assert cli.json("versions", name, "2", "--json")["log_level"] == "ERROR"
    refused = cli.run("config", name, "--log-level", "loud")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "InvalidInput" in refused.stderr and "log_level" in refused.stderr
