"""`sandlot destinations` and `sandlot deliveries` against a real server process, on SQLite
and PostgreSQL: set and show destinations (the secret from stdin, never shown), bad input
named, deliveries listed and redelivered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sandlot.storage.db import make_engine, make_sessionmaker
from tests.api.destination_world import failed_delivery
from tests.cli.test_cli_e2e import Cli, function_folder
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

SECRET = "cli-webhook-secret-" + "x" * 20
SOURCE = "def handler(event, context):\n    return event\n"


def _url(tmp_path: Path, database_url: str) -> str:
    if database_url.startswith("postgres"):
        return database_url
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'sandlot.db'}"


async def _delivery(url: str, function: str) -> str:
    engine = make_engine(url)
    try:
        return await failed_delivery(make_sessionmaker(engine), function, "0" * 26)
    finally:
        await engine.dispose()


def test_destinations_through_the_cli(tmp_path: Path, database_url: str) -> None:
    env = {"SANDLOT_DATABASE_URL": database_url} if database_url.startswith("postgres") else {}
    server = start_server(tmp_path / "data", extra_env=env)
    try:
        cli = Cli(server, tmp_path)

        def ok(*args: str, input: str | None = None) -> str:
            result = cli.run(*args, input=input)
            assert result.returncode == 0, f"{args}:\n{result.stderr}"
            assert SECRET not in result.stdout + result.stderr
            return result.stdout

        def fails(*args: str, input: str | None = None) -> str:
            result = cli.run(*args, input=input)
            assert result.returncode != 0, f"{args} should fail:\n{result.stdout}"
            return result.stderr

        ok("deploy", str(function_folder(tmp_path, SOURCE)), "-n", "hooked")
        ok("deploy", str(function_folder(tmp_path, SOURCE)), "-n", "next")
        shown = ok("destinations", "show", "hooked")
        assert "on success: -" in shown and "secret: not set" in shown
        assert "secret" in fails(
            "destinations", "set", "hooked", "--on-success", "https://x.test/h"
        )
        assert "WebhookSecretTooShort" in fails(
            "destinations",
            "set",
            "hooked",
            "--on-success",
            "https://x.test/h",
            "--secret-from-stdin",
            input="short\n",
        )
        assert "InvalidDestination" in fails(
            "destinations", "set", "hooked", "--on-failure", "fn:nowhere"
        )
        assert "expected a URL" in fails("destinations", "set", "hooked", "--on-success", "x")
        ok(
            "destinations",
            "set",
            "hooked",
            "--on-success",
            "https://x.test/h",
            "--secret-from-stdin",
            input=SECRET + "\n",
        )
        # An option left out keeps what is set; the secret stays without being sent again.
        shown = ok("destinations", "set", "hooked", "--on-failure", "fn:next")
        assert "on success: https://x.test/h" in shown and "on failure: fn:next" in shown
        assert "secret: set" in shown
        config = json.loads(ok("destinations", "show", "hooked", "--json"))
        assert config["on_failure"] == {"type": "function", "function": "next", "url": None}
        assert config["secret_set"] is True

        delivery = asyncio.run(_delivery(_url(tmp_path, database_url), "hooked"))
        listed = ok("deliveries", "list", "hooked")
        assert delivery in listed and "failed" in listed
        again = ok("deliveries", "redeliver", "hooked", delivery, "--json")
        assert json.loads(again)["redelivery_of"] == delivery
        items = json.loads(ok("deliveries", "list", "hooked", "--json"))["items"]
        assert {item["id"] for item in items} == {delivery, json.loads(again)["id"]}
        assert "DeliveryNotFound" in fails("deliveries", "redeliver", "hooked", "0" * 26)
    finally:
        stop_server(server)
