"""Secrets end to end: the `sandlot` CLI against a real server process on SQLite and on
PostgreSQL. Then every byte the run produced (the server's log, the CLI's output, the answers,
/metrics, every file of the data dir, the database's rows) is searched for the values used."""

from __future__ import annotations

import json
import secrets as random
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli_e2e import Cli, eventually, function_folder
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

SOURCE = """
import os

def handler(event, context):
    value = os.environ["DB_PASSWORD"]
    with open("/run/secrets/TLS_KEY") as fh:
        tls = fh.read()
    if event.get("raise"):
        raise RuntimeError("cannot connect with " + value)
    print("connecting with", value, "and", tls)
    return {"env_len": len(value), "file_len": len(tls)}
"""


def test_secrets_through_the_cli_leave_no_trace(tmp_path: Path, database_url: str) -> None:
    password, tls = "pw-" + random.token_hex(16), "tls-" + random.token_hex(16)
    env = {"SANDLOT_DATABASE_URL": database_url} if database_url.startswith("postgres") else {}
    server = start_server(tmp_path / "data", extra_env=env)
    outputs: list[str] = []
    try:
        cli = Cli(server, tmp_path)

        def ok(*args: str, input: str | None = None) -> str:
            result = cli.run(*args, input=input)
            outputs.extend((result.stdout, result.stderr))
            assert result.returncode == 0, f"{args}:\n{result.stderr}"
            return result.stdout

        def fails(*args: str, input: str | None = None) -> str:
            result = cli.run(*args, input=input)
            outputs.extend((result.stdout, result.stderr))
            assert result.returncode != 0, f"{args} should fail"
            return result.stderr

        assert "version 1" in ok("secrets", "set", "DB_PASSWORD", input=password + "\n")
        ok("secrets", "set", "TLS_KEY", input=tls)
        assert "SecretMissing" in fails(
            "deploy", str(function_folder(tmp_path, SOURCE)), "-n", "app", "--secret", "NOPE"
        )
        folder = function_folder(tmp_path, SOURCE)
        ok("deploy", str(folder), "-n", "app", "--secret", "DB_PASSWORD", "-s", "TLS_KEY:file")
        listed = json.loads(ok("secrets", "list", "--json"))["items"]
        assert {s["name"]: s["used_by"] for s in listed} == {
            "DB_PASSWORD": ["app"],
            "TLS_KEY": ["app"],
        }
        shown = json.loads(ok("secrets", "show", "DB_PASSWORD", "--json"))
        assert shown["version"] == 1 and "value" not in shown
        result = json.loads(ok("invoke", "app", "--data", "{}"))
        assert result == {"env_len": len(password), "file_len": len(tls)}
        assert "cannot connect with ***" in fails("invoke", "app", "--data", '{"raise": true}')
        succeeded = eventually(
            lambda: (
                json.loads(
                    ok("invocations", "list", "-f", "app", "--state", "succeeded", "--json")
                )["items"]
                or None
            )
        )
        logs = ok("invocations", "logs", succeeded[0]["id"]) + ok("logs", "app")
        assert "connecting with *** and ***" in logs
        assert "InvalidSecretName" in fails("secrets", "set", "1BAD", input="x")
        assert "SecretInUse" in fails("secrets", "delete", "DB_PASSWORD")
        rotation = json.loads(ok("secrets", "rotate-key", "--json"))
        assert rotation["resealed"] == 2
        ok("secrets", "set", "DB_PASSWORD", input=password + "-2")
        assert json.loads(ok("invoke", "app", "--data", "{}"))["env_len"] == len(password) + 2
        ok("config", "app", "--no-secrets")
        ok("secrets", "delete", "TLS_KEY")
        assert "TLS_KEY" not in ok("secrets", "list")
        metrics = httpx.get(
            f"{server.url}/metrics",
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=10,
        ).text
        outputs.append(metrics)
        assert "sandlot_" in metrics
    finally:
        stop_server(server)
    produced = [*outputs, server.log_path.read_text(errors="replace")]
    for text in produced:
        for secret in (password, tls):
            assert secret not in text
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert password.encode() not in data, path
            assert tls.encode() not in data, path
