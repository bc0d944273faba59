"""`sandlot deploy` of a folder with requirements, `sandlot envs` and `sandlot doctor`,
against a real server that installs from a local find-links folder (offline)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli_e2e import Cli
from tests.conftest import LiveServer, start_server, stop_server
from tests.envs.wheelkit import write_wheel

pytestmark = pytest.mark.slow


@pytest.fixture
def server_with_links(tmp_path: Path) -> Iterator[LiveServer]:
    links = tmp_path / "links"
    links.mkdir()
    write_wheel(str(links), "alpha", "1.0", requires=["beta<2"])
    write_wheel(str(links), "beta", "1.5")
    server = start_server(tmp_path / "data", {"SANDLOT_FIND_LINKS": json.dumps([str(links)])})
    try:
        yield server
    finally:
        stop_server(server)


def _folder(root: Path, requirements: str) -> Path:
    root.mkdir()
    (root / "main.py").write_text(
        "import alpha\ndef handler(event, context):\n    return {'alpha': alpha.VERSION}\n"
    )
    (root / "requirements.txt").write_text(requirements)
    return root


def test_deploy_follows_the_build_and_the_function_imports_its_dependency(
    server_with_links: LiveServer, tmp_path: Path
) -> None:
    cli = Cli(server_with_links, tmp_path)
    deployed = cli.run("deploy", str(_folder(tmp_path / "fn", "alpha\n")), "--name", "uses-alpha")
    assert deployed.returncode == 0, deployed.stderr
    assert "uses-alpha  version 1  ready" in deployed.stdout
    assert "resolving 1 requirement(s) from requirements.txt" in deployed.stderr
    assert json.loads(cli.ok("invoke", "uses-alpha")) == {"alpha": "1.0"}
    envs = cli.json("envs", "list", "--json")["items"]
    assert len(envs) == 1 and envs[0]["in_use"] is True
    cli.ok("functions", "delete", "uses-alpha", "--yes")
    pruned = cli.json("envs", "prune", "--grace", "0", "--json")
    assert pruned["removed"] == [envs[0]["key"]]


def test_a_failed_build_exits_nonzero_with_uvs_error(
    server_with_links: LiveServer, tmp_path: Path
) -> None:
    cli = Cli(server_with_links, tmp_path)
    folder = _folder(tmp_path / "fn", "alpha\nno-such-package-anywhere\n")
    failed = cli.run("deploy", str(folder), "--name", "broken")
    assert failed.returncode == 1
    assert "failed to build" in failed.stderr
    assert "no-such-package-anywhere" in failed.stderr
    versions = cli.json("versions", "broken", "--json")["items"]
    assert versions[0]["state"] == "failed"


def test_a_build_whose_module_fails_to_import_exits_nonzero_with_the_traceback(
    server_with_links: LiveServer, tmp_path: Path
) -> None:
    cli = Cli(server_with_links, tmp_path)
    cli.ok("deploy", str(_folder(tmp_path / "v1", "alpha\n")), "--name", "fn")
    folder = _folder(tmp_path / "v2", "alpha\n")
    (folder / "main.py").write_text("import alpha\nimport not_declared\nhandler = print\n")
    failed = cli.run("deploy", str(folder), "--name", "fn")
    assert failed.returncode == 1
    assert "environment" in failed.stderr  # the dependencies were installed first
    assert "Traceback (most recent call last)" in failed.stderr
    assert "ModuleNotFoundError: No module named 'not_declared'" in failed.stderr
    assert json.loads(cli.ok("invoke", "fn")) == {"alpha": "1.0"}
    assert cli.json("functions", "get", "fn", "--json")["latest_version"] == 1


def test_doctor_reports_every_layer_on_this_host() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "doctor"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for layer in ("user", "seccomp", "landlock", "memory"):
        assert layer in done.stdout.lower()
    # Whether egress policies can be enforced here, said either way (never silently).
    assert "egress: " in done.stdout
