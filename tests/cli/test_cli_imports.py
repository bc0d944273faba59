"""What the CLI imports to start, since that is most of its start-up time (`make bench` has
the times): `--help` needs neither the client nor Rich, `invoke` needs the client but none of
httpx, Rich or pydantic, and no command of the CLI's own imports the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI as its console script does, then writes down every module it had imported.
_PROBE = """
import json, sys
out, sys.argv = sys.argv[1], ["sandlot", *sys.argv[2:]]
from sandlot.cli.main import app
try:
    app()
except SystemExit:
    pass
with open(out, "w") as file:
    json.dump(sorted(sys.modules), file)
"""

# Costly to import, and none of them is needed to print help or make one call.
_HEAVY = ("httpx", "rich", "pydantic", "pydantic_settings", "typer._adapters")
_SERVER = ("sandlot.config", "sandlot.app", "sqlalchemy", "fastapi", "uvicorn")


def _modules_after(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        env={**env, "SANDLOT_URL": "http://127.0.0.1:9", "XDG_CONFIG_HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.exists(), done.stderr
    return set(json.loads(out.read_text()))


def _loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m in packages or m.split(".")[0] in packages)


@pytest.mark.parametrize(
    "args", [("--help",), ("functions", "--help"), ("invoke", "--help"), ("logs", "--help")]
)
def test_help_imports_neither_the_client_nor_rich(tmp_path: Path, args: tuple[str, ...]) -> None:
    modules = _modules_after(tmp_path, *args)

    assert "sandlot.cli.main" in modules
    assert _loaded(modules, ("sandlot.client", "http", *_HEAVY, *_SERVER)) == []


def test_invoke_imports_the_client_but_nothing_heavy(tmp_path: Path) -> None:
    # Port 9 (discard) has no server: the call fails, after everything it needs was imported.
    modules = _modules_after(tmp_path, "invoke", "hello", "--data", '{"name": "ada"}')

    assert {"sandlot.client.http", "http.client"} <= modules
    assert _loaded(modules, (*_HEAVY, *_SERVER, "zipfile")) == []


def test_listing_imports_rich_only_to_print_its_table(tmp_path: Path) -> None:
    modules = _modules_after(tmp_path, "functions", "list")

    assert _loaded(modules, (*_SERVER, "httpx", "pydantic")) == []
