"""`sandlot invocations list` narrowed by version, cold or warm, and a time range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, function_folder, unique
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


def test_the_filters_narrow_the_listing(live_server: LiveServer, tmp_path: Path) -> None:
    cli = Cli(live_server, tmp_path)
    name = unique("filtered")
    source = "def handler(event, context):\n    return 1\n"
    cli.ok("deploy", str(function_folder(tmp_path, source)), "--name", name)
    cli.ok("invoke", name)
    cli.ok("invoke", name)
    cli.ok("deploy", str(function_folder(tmp_path, source.replace("1", "2"))), "--name", name)
    cli.ok("invoke", name)

    def listed(*options: str) -> list[dict[str, object]]:
        page = cli.json("invocations", "list", "-f", name, *options, "--json")
        items: list[dict[str, object]] = page["items"]
        return items

    # Readers flush what is buffered, so every call is listed at once.
    assert [item["version"] for item in listed()] == [2, 1, 1]
    assert [item["version"] for item in listed("--version", "1")] == [1, 1]
    cold, warm = listed("--cold"), listed("--warm")
    assert all(item["cold_start"] for item in cold) and not any(i["cold_start"] for i in warm)
    assert len(cold) + len(warm) == 3
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert listed("--since", later) == []
    assert len(listed("--until", later)) == 3
