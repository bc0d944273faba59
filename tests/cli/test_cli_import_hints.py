"""Imports that only work on Lambda by accident, said at deploy: in the deploy's answer and
the version's record (API), in `sandlot deploy`'s output, and gone once requirements.txt
declares the package. A real `sandlot serve` on SQLite and on PostgreSQL, installing from a
local find-links folder (offline) whose `python-dateutil` provides `dateutil`, as on PyPI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli_e2e import Cli
from tests.conftest import LiveServer, start_server, stop_server, zip_bytes
from tests.envs.wheelkit import write_wheel

pytestmark = pytest.mark.slow

DATEUTIL = (
    "main.py imports dateutil, which no dependency provides: "
    "add python-dateutil to requirements.txt"
)
BOTO3 = (
    "main.py imports boto3, which AWS Lambda's runtime ships and Sandlot does not: "
    "add boto3 to requirements.txt"
)
# At module level, on a branch that runs only on Lambda: the version imports here, and
# the imports are still found.
ON_LAMBDA = """\
import os
if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
    import boto3
    from dateutil import parser
def handler(event, context):
    return {"ok": True}
"""


def _folder(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def _server(tmp_path: Path, database_url: str) -> LiveServer:
    links = tmp_path / "links"
    links.mkdir()
    write_wheel(str(links), "python-dateutil", "2.9.0", module="dateutil")
    env = {"SANDLOT_FIND_LINKS": json.dumps([str(links)])}
    if database_url.startswith("postgres"):
        env["SANDLOT_DATABASE_URL"] = database_url
    return start_server(tmp_path / "data", env)


def test_imports_nothing_provides_are_warned_at_deploy(tmp_path: Path, database_url: str) -> None:
    server = _server(tmp_path, database_url)
    try:
        cli = Cli(server, tmp_path)
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"}, timeout=60
        )
        # The API: the answer (which waited for the build) and the version's record.
        made = api.post(
            "/api/v1/functions",
            data={"name": "by-api"},
            files={"code": ("c.zip", zip_bytes({"main.py": ON_LAMBDA}), "application/zip")},
        )
        assert made.status_code == 201, made.text
        assert made.json()["warnings"] == [BOTO3, DATEUTIL]
        version = api.get("/api/v1/functions/by-api/versions/1").json()
        assert version["state"] == "ready"
        assert version["build_warnings"] == [BOTO3, DATEUTIL]
        log = api.get("/api/v1/functions/by-api/versions/1/build-log").text
        assert f"warning: {DATEUTIL}\n" in log

        # The CLI, its answer settled: a warning, never a refusal.
        plain = _folder(tmp_path / "plain", {"main.py": ON_LAMBDA})
        deployed = cli.run("deploy", str(plain), "--name", "by-cli")
        assert deployed.returncode == 0, deployed.stderr
        assert "by-cli  version 1  ready" in deployed.stdout
        assert f"warning: {DATEUTIL}" in deployed.stderr
        assert f"warning: {BOTO3}" in deployed.stderr

        # A handler whose import fails here still says what to add.
        failing = _folder(tmp_path / "failing", {"main.py": "import dateutil\n" + ON_LAMBDA})
        failed = cli.run("deploy", str(failing), "--name", "fails")
        assert failed.returncode == 1
        assert f"warning: {DATEUTIL}" in failed.stderr
        assert "ModuleNotFoundError" in failed.stderr
        assert api.get("/api/v1/functions/fails/versions/1").json()["build_warnings"] == [
            BOTO3,
            DATEUTIL,
        ]

        # Declared: built from the index, followed, and only boto3 is left to add.
        declared = _folder(
            tmp_path / "declared", {"main.py": ON_LAMBDA, "requirements.txt": "python-dateutil\n"}
        )
        followed = cli.run("deploy", str(declared), "--name", "by-cli")
        assert followed.returncode == 0, followed.stderr
        assert "by-cli  version 2  ready" in followed.stdout
        assert "resolving 1 requirement(s) from requirements.txt" in followed.stderr
        assert f"warning: {BOTO3}" in followed.stderr
        assert "dateutil, which no dependency provides" not in followed.stderr
        version = api.get("/api/v1/functions/by-cli/versions/2").json()
        assert version["build_warnings"] == [BOTO3]
        api.close()
    finally:
        stop_server(server)
