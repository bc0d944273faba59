"""`sandlot release` and `sandlot releases` against a real server process: start with the
plan's options, list, get, pause, resume, promote, and the named errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli_e2e import Cli, function_folder
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow

SOURCE = """
def handler(event, context):
    return {"v": VERSION}
"""


def test_releases_through_the_cli(tmp_path: Path, live_server: LiveServer) -> None:
    cli = Cli(live_server, tmp_path)

    def ok(*args: str) -> str:
        result = cli.run(*args)
        assert result.returncode == 0, f"{args}:\n{result.stderr}"
        return result.stdout

    def refused(*args: str) -> str:
        result = cli.run(*args)
        assert result.returncode != 0, args
        return result.stdout + result.stderr

    for version in (1, 2):
        folder = function_folder(tmp_path, SOURCE.replace("VERSION", str(version)))
        ok("deploy", str(folder), "-n", "shop")
    aliased = httpx.put(
        f"{live_server.url}/api/v1/functions/shop/aliases/prod",
        json={"version": 1},
        headers={"Authorization": f"Bearer {live_server.api_key}"},
    )
    assert aliased.status_code in (200, 201), aliased.text

    assert "InvalidReleasePlan" in refused("release", "shop", "--version", "2", "--interval", "10s")
    assert "not a duration" in refused("release", "shop", "--version", "2", "--interval", "5x")
    made = json.loads(
        ok(
            "release", "shop", "--version", "2", "--alias", "prod", "--steps", "10,50,100",
            "--interval", "5m", "--max-error-rate", "2%", "--max-p99-ratio", "1.5", "--json",
        )
    )  # fmt: skip
    assert (made["steps"], made["interval_s"], made["max_error_rate"]) == ([10, 50, 100], 300, 2.0)
    assert (made["max_p99_ratio"], made["weight"], made["state"]) == (1.5, 10, "running")
    assert "ReleaseInProgress" in refused("release", "shop", "--version", "2")

    table = ok("releases", "list", "shop")
    assert made["id"] in table and "v1 -> v2" in table and "running" in table
    assert "10% on v2" in ok("releases", "get", "shop", made["id"])
    assert "paused" in ok("releases", "pause", "shop", made["id"])
    assert "running" in ok("releases", "resume", "shop", made["id"])
    promoted = json.loads(ok("releases", "promote", "shop", made["id"], "--json"))
    assert promoted["state"] == "promoted" and promoted["weight"] == 100
    assert "ReleaseNotActive" in refused("releases", "abort", "shop", made["id"])
    assert "ReleaseNotFound" in refused("releases", "get", "shop", "rel_" + "0" * 26)
