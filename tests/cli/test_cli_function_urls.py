"""`sandlot url` against a real server process: give a function a URL, call it over real
HTTP as a stranger, change its CORS, take it down."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli_e2e import Cli, function_folder
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

SOURCE = """
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "text/plain"},
            "body": "you asked for " + event["rawPath"]}
"""


def test_show_set_call_and_delete(tmp_path: Path, database_url: str) -> None:
    env = {"SANDLOT_DATABASE_URL": database_url} if database_url.startswith("postgres") else {}
    server = start_server(tmp_path / "data", extra_env=env)
    try:
        cli = Cli(server, tmp_path)

        def ok(*args: str) -> str:
            result = cli.run(*args)
            assert result.returncode == 0, f"{args}:\n{result.stderr}"
            return result.stdout

        ok("deploy", str(function_folder(tmp_path, SOURCE)), "-n", "site")
        assert "has no URL" in ok("url", "site")
        shown = json.loads(ok("url", "site", "--auth", "none", "--json"))
        assert shown["url"] == f"{server.url}/fn/default/site/"
        assert httpx.get(shown["url"] + "a/b").text == "you asked for /a/b"
        text = ok("url", "site", "--cors-origin", "https://app.example", "--cors-max-age", "60")
        assert "https://app.example" in text and "auth: none" in text
        preflight = httpx.options(
            shown["url"],
            headers={"origin": "https://app.example", "access-control-request-method": "GET"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-max-age"] == "60"
        ok("url", "site", "--auth", "key")
        assert httpx.get(shown["url"]).status_code == 401
        keyed = httpx.get(shown["url"], headers={"authorization": f"Bearer {server.api_key}"})
        assert keyed.status_code == 200
        bad = cli.run("url", "site", "--auth", "none", "--cors-origin", "nope")
        assert bad.returncode != 0 and "InvalidFunctionUrl" in bad.stderr
        assert "has no URL" in ok("url", "site", "--delete")
        assert httpx.get(shown["url"]).status_code == 404
    finally:
        stop_server(server)
