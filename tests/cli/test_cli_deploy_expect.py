"""`sandlot deploy --expect-version N` is refused when another deploy came first, and a
deploy identical to the newest version says it made none: a real CLI against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli, cli, function_folder, unique

pytestmark = pytest.mark.slow
__all__ = ["cli"]  # the fixture


def test_deploys_name_what_they_replace_and_say_when_nothing_changed(
    cli: Cli, tmp_path: Path
) -> None:
    name = unique("expect")
    first = function_folder(tmp_path, "def handler(event, context):\n    return 1\n")
    cli.ok("deploy", str(first), "--name", name)
    same = cli.ok("deploy", str(first), "--name", name)
    assert f"{name}  version 1  ready  (unchanged" in same
    assert cli.json("deploy", str(first), "--name", name, "--json")["unchanged"] is True

    second = function_folder(tmp_path, "def handler(event, context):\n    return 2\n")
    moved = cli.ok("deploy", str(second), "--name", name, "--expect-version", "1")
    assert f"{name}  version 2  ready" in moved and "unchanged" not in moved
    late = cli.run("deploy", str(first), "--name", name, "--expect-version", "1")
    assert late.returncode == 1 and "VersionConflict" in late.stderr, late.stderr
    assert cli.json("functions", "get", name, "--json")["versions"] == 2
